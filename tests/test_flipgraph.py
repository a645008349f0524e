"""Issue 15: the flip graph as a networkx graph; the published <2,2,2> rank-8 graph reproduced."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from flipforge.schemes import Scheme, SchemeError, builtin_scheme, parse_target, read_schemes
from flipforge.schemes.formats.native import write_native
from flipforge.search import flipgraph as fg
from flipforge.verify import verify
from hypothesis import given, settings
from hypothesis import strategies as st

T222 = parse_target("2x2x2")


@pytest.fixture(scope="module")
def naive_graph() -> nx.MultiDiGraph:
    return fg.explore(Scheme.naive(T222))


def _valid(terms: fg.Terms, label: str = "2x2x2") -> bool:
    return verify(fg.to_scheme(terms, parse_target(label)), "F2").valid


def test_terms_round_trip_and_cancel_mod_2() -> None:
    s = Scheme.naive(T222)
    assert fg.to_terms(fg.to_scheme(fg.to_terms(s), T222)) == fg.to_terms(s)
    doubled = Scheme(T222, np.vstack([s.u, s.u[:1]]), np.vstack([s.v, s.v[:1]]), np.vstack([s.w, s.w[:1]]), "F2")
    assert len(fg.to_terms(doubled)) == 7  # the repeated term cancels over F2


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1295), st.integers(0, 10_000))
def test_every_symmetry_keeps_a_valid_scheme_valid(g: int, walk: int) -> None:
    """Images of a valid scheme (reached by a few random flips from the naive one) are valid."""
    group = fg.symmetry_group(T222)
    lay = fg.layout_of(T222)
    rng = np.random.default_rng(walk)
    terms = fg.to_terms(Scheme.naive(T222))
    for _ in range(5):
        options = list(fg.flips(terms, lay))
        terms = options[rng.integers(len(options))][1]
    assert _valid(group.image(terms, g))
    assert group.canonical(group.image(terms, g)) == group.canonical(terms)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["2x2x2", "2x2x3", "2x3x3"]))
def test_every_move_of_a_valid_scheme_is_valid(seed: int, label: str) -> None:
    tensor = parse_target(label)
    lay = fg.layout_of(tensor)
    rng = np.random.default_rng(seed)
    terms = fg.to_terms(Scheme.naive(tensor))
    for _ in range(4):
        for mover in (fg.flips, fg.reductions, fg.splits, fg.plus_transitions):
            moves = list(mover(terms, lay))
            if moves:
                _, after = moves[rng.integers(len(moves))]
                assert _valid(after, label), mover.__name__
        terms = list(fg.flips(terms, lay))[0][1]


def test_the_rank_8_graph_of_222_from_the_naive_scheme(naive_graph: nx.MultiDiGraph) -> None:
    info = fg.summary(naive_graph)
    assert info["complete"] and info["group_size"] == 1296
    assert (info["nodes"], info["flip_edges"], info["self_loops"], info["components"]) == (265, 1173, 40, 1)
    assert len(info["exits"]) == 3 and info["nodes_below"] == 1  # three orbits reduce, all to Strassen's
    below = [n for n, r in naive_graph.nodes(data="rank") if r == 7]
    assert below == [fg.symmetry_group(T222).canonical(fg.to_terms(builtin_scheme("builtin:strassen")))]
    for node, terms in naive_graph.nodes(data="scheme"):  # the scheme the walk reached is in its orbit
        assert _valid(terms) and fg.symmetry_group(T222).canonical(terms) == node


def test_it_is_the_published_graph(reference: Path, naive_graph: nx.MultiDiGraph) -> None:
    """Kauers-Moosbauer's <2,2,2> rank-8 graph (273 vertices, 1183 edges, 40 loops) is our flip
    graph from the naive scheme (265 orbits) plus Strassen's orbit (the 3 exits' reductions), 6
    orbits of split Strassen terms (4 of them) and their flips (2), and 1 orbit with no move at all."""
    root = reference / "kauers_moosbauer_flips" / "flipgraph_222_rank8"
    group = fg.symmetry_group(T222)
    canon = {f.name: group.canonical(fg.to_terms(read_schemes(f)[0])) for f in sorted((root / "vertices").iterdir())}
    published = nx.Graph()
    published.add_nodes_from(canon.values())
    for line in (root / "edges.txt").read_text().splitlines():
        if line.strip():
            a, b = line.split()
            published.add_edge(canon[a], canon[b])
    assert len(canon) == len(set(canon.values())) == 273  # the same symmetry classes as ours
    assert (published.number_of_edges(), nx.number_of_selfloops(published)) == (1183, 40)

    ours = fg.flip_graph(naive_graph)
    component = published.subgraph(ours.nodes)
    assert set(map(frozenset, component.edges)) == set(map(frozenset, ours.edges))
    assert nx.vf2pp_is_isomorphic(component, ours)

    strassen = group.canonical(fg.to_terms(builtin_scheme("builtin:strassen")))
    exits = {a for a, b, m in naive_graph.edges(data="move") if m == "reduce"}
    assert {n for n in published.neighbors(strassen) if n in ours} == exits
    rest = set(published.nodes) - set(ours.nodes) - {strassen}
    lay = fg.layout_of(T222)
    split = {group.canonical(t) for _, t in fg.splits(strassen, lay)}
    near = {group.canonical(t) for n in rest & split for _, t in fg.flips(n, lay)}
    rigid = [n for n in rest if n not in split | near]
    assert len(rest) == 7 and len(rest & split) == 4 and len(rigid) == 1
    assert not list(fg.flips(rigid[0], lay)) and not list(fg.reductions(rigid[0], lay))


def test_a_shortest_path_is_a_sequence_of_valid_flips(naive_graph: nx.MultiDiGraph) -> None:
    far = max((n for n in naive_graph.nodes if len(n) == 8), key=lambda n: naive_graph.nodes[n]["depth"])
    goal = fg.to_scheme(naive_graph.nodes[far]["scheme"], T222)
    steps = fg.shortest_path(Scheme.naive(T222), goal)
    assert len(steps) - 1 == naive_graph.nodes[far]["depth"]
    lay = fg.layout_of(T222)
    for (_, before), (_, after) in zip(steps, steps[1:], strict=False):
        assert after in {t for _, t in fg.flips(before, lay)} and _valid(after)


def test_without_symmetry_the_graph_is_of_schemes() -> None:
    naive = fg.to_terms(Scheme.naive(T222))
    info = fg.summary(fg.explore(Scheme.naive(T222), depth=1, up_to="none"))
    neighbours = {t for _, t in fg.flips(naive, fg.layout_of(T222))}
    assert not info["complete"] and info["group_size"] == 1 and info["nodes"] == 1 + len(neighbours)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(SchemeError, match="too many"):
        fg.symmetry_group(parse_target("3x3x3"))
    with pytest.raises(SchemeError, match="moves"):
        fg.explore(Scheme.naive(T222), moves=("jump",))
    with pytest.raises(SchemeError, match="ranks"):
        fg.shortest_path(Scheme.naive(T222), builtin_scheme("builtin:strassen"))


def run(cmd: list[str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_the_command(flipforge_cmd: list[str], tmp_path: Path) -> None:
    out = run(flipforge_cmd, tmp_path, "graph", "builtin:naive:2x2x2", "-o", "g.graphml")
    assert out.returncode == 0, out.stderr
    assert "265 nodes, 1173 flip edges (40 self-loops)" in out.stdout
    assert "exits (nodes with a reduction): 3" in out.stdout
    written = nx.read_graphml(tmp_path / "g.graphml")
    assert sum(1 for _, r in written.nodes(data="rank") if r == 8) == 265

    lay = fg.layout_of(T222)
    terms = fg.to_terms(Scheme.naive(T222))
    for k in range(3):
        terms = list(fg.flips(terms, lay))[5 * k][1]
    write_native([fg.to_scheme(terms, T222)], tmp_path / "three.json")
    out = run(flipforge_cmd, tmp_path, "graph", "builtin:naive:2x2x2", "--path-to", "three.json", "--up-to", "none")
    assert out.returncode == 0 and out.stdout[:9] in ("2 flip(s)", "3 flip(s)"), (out.stdout, out.stderr)
    out = run(flipforge_cmd, tmp_path, "graph", "three.json", "--depth", "1", "--json")
    assert json.loads(out.stdout)["complete"] is False


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["builtin:naive:3x3x3"], "too many to try"),
        (["builtin:naive:2x2x2", "--moves", "hop"], "moves"),
        (["builtin:naive:2x2x2", "--ranks", "x"], "--ranks"),
        (["builtin:naive:2x2x2", "--ranks", "9-10"], "outside the ranks"),
        (["builtin:naive:2x2x2", "-o", "g.png"], "must end in"),
        (["builtin:naive:2x2x2", "--path-to", "builtin:strassen"], "keep the rank"),
        (["missing.json"], "no such file"),
    ],
)
def test_bad_input_is_one_line(flipforge_cmd: list[str], tmp_path: Path, args: list[str], needle: str) -> None:
    out = run(flipforge_cmd, tmp_path, "graph", *args)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and needle in lines[0], (out.returncode, out.stderr)


@pytest.mark.parametrize(("name", "depth", "width"), [("naive:2x2x2", 2, 8), ("strassen", 4, 10), ("winograd", 6, 6)])
def test_reduce_reports_the_depth_and_width_of_the_program(
    flipforge_cmd: list[str], tmp_path: Path, name: str, depth: int, width: int
) -> None:
    """Naive: products then one addition per entry of C; Strassen: one addition, the product, four-term
    sums (two levels); Winograd trades depth (6) for its 15 additions."""
    out = run(flipforge_cmd, tmp_path, "reduce", f"builtin:{name}", "--json")
    row = json.loads(out.stdout)
    assert (row["depth"], row["width"]) == (depth, width)
    from flipforge.schemes.additions import program_dag, reduce_additions

    dag = program_dag(reduce_additions(builtin_scheme(f"builtin:{name}")))
    assert (
        nx.is_directed_acyclic_graph(dag)
        and sum(1 for n in dag if n[0] == "m") == builtin_scheme(f"builtin:{name}").rank
    )
