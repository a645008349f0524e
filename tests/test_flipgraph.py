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


def test_the_group_is_that_of_schemes_symmetry() -> None:
    """The lookup tables agree with flipforge.schemes.symmetry: every isotropy, rotation and
    transpose of a scheme, done there, is one of the 1296 images done here."""
    from flipforge.schemes.symmetry import isotropy, rotate, transpose

    group = fg.symmetry_group(T222)
    lay = fg.layout_of(T222)
    terms = fg.to_terms(Scheme.naive(T222))
    for k in range(6):
        terms = list(fg.flips(terms, lay))[3 * k][1]
    images = {group.image(terms, g) for g in range(group.size)}
    scheme = fg.to_scheme(terms, T222)
    gl2 = [np.array(m).reshape(2, 2) for m in ([1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 1], [1, 0, 1, 1], [1, 1, 1, 0])]
    for x, y, z in [(gl2[0], gl2[2], gl2[4]), (gl2[1], gl2[3], gl2[2]), (gl2[4], gl2[4], gl2[0])]:
        moved = isotropy(scheme, x, y, z)
        for shown in (moved, rotate(moved), rotate(rotate(moved)), transpose(moved), transpose(rotate(moved))):
            assert fg.to_terms(shown) in images


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


def _published(reference: Path) -> tuple[dict[str, fg.Terms], nx.DiGraph]:
    """The vertex files canonicalised, and edges.txt as arcs between the canonical forms."""
    root = reference / "kauers_moosbauer_flips" / "flipgraph_222_rank8"
    group = fg.symmetry_group(T222)
    canon = {f.name: group.canonical(fg.to_terms(read_schemes(f)[0])) for f in sorted((root / "vertices").iterdir())}
    arcs = nx.DiGraph()
    arcs.add_nodes_from(canon.values())
    lines = [line.split() for line in (root / "edges.txt").read_text().splitlines() if line.strip()]
    arcs.add_edges_from((canon[a], canon[b]) for a, b in lines)
    assert len(lines) == arcs.number_of_edges() == 2319  # no line repeats
    return canon, arcs


def test_it_is_the_published_graph(reference: Path, naive_graph: nx.MultiDiGraph) -> None:
    """Kauers-Moosbauer's <2,2,2> rank-8 graph (273 vertices, 2319 lines, 1183 edges, 40 loops),
    read up to the symmetry group of 1296 elements, is our walk from the naive scheme by flips,
    reductions and splits (ranks 7-8), arc for arc: edges.txt has one line per vertex and distinct
    orbit that one flip or reduction of it reaches (2 x 1136 flip arcs, 40 flip self-loops, 7
    reductions to Strassen), not one per flip. Two orbits differ: we also reach a split of
    Strassen's (a11+a22)(b11+b22)(c11+c22) whose halves' u factors are both invertible (it has
    a reduction and no flip), and they list one orbit that has no flip and no reduction at all,
    which no move reaches."""
    canon, published = _published(reference)
    assert len(set(canon.values())) == 273  # distinct under the full group (isotropies x S3)
    group = fg.symmetry_group(T222)
    strassen = group.canonical(fg.to_terms(builtin_scheme("builtin:strassen")))

    ours_graph = fg.explore(Scheme.naive(T222), moves=("flip", "reduce", "split"), ranks=(7, 8), leaves=False)
    ours = fg.adjacency(ours_graph)
    assert ours_graph.graph["complete"] and ours.number_of_nodes() == 273 and strassen in ours
    (only_ours,) = set(ours) - set(published)
    (only_theirs,) = set(published) - set(ours)
    shared = set(ours) & set(published)
    assert set(ours.subgraph(shared).edges) == set(published.edges)  # every one of the 2319 arcs
    assert nx.is_isomorphic(published.subgraph(shared), ours.subgraph(shared))

    lay = fg.layout_of(T222)
    assert not list(fg.flips(only_theirs, lay)) and not list(fg.reductions(only_theirs, lay))
    assert _valid(only_theirs) and published.degree(only_theirs) == 0
    assert not list(fg.flips(only_ours, lay)) and list(ours.successors(only_ours)) == [strassen]
    assert _valid(only_ours) and only_ours in {group.canonical(t) for _, t in fg.splits(strassen, lay)}

    undirected = published.to_undirected()
    assert (undirected.number_of_edges(), nx.number_of_selfloops(undirected)) == (1183, 40)
    ours_flips = fg.flip_graph(naive_graph)  # the component of the naive scheme: 265 orbits, 3 exits
    assert nx.vf2pp_is_isomorphic(undirected.subgraph(ours_flips.nodes), ours_flips)
    exits = {a for a in published if published.has_edge(a, strassen)}
    assert len(exits) == 7 and {a for a in ours if ours.has_edge(a, strassen)} == exits | {only_ours}
    assert {a for a, _, m in naive_graph.edges(data="move") if m == "reduce"} == exits & set(ours_flips)


@pytest.mark.parametrize(("depth", "moves"), [(3, ("flip", "reduce")), (1, ("flip", "reduce", "split", "plus"))])
def test_every_edge_is_a_verified_move(depth: int, moves: tuple[str, ...]) -> None:
    """Each edge of a small graph is a move of the scheme the walk reached, and every scheme holds."""
    graph = fg.explore(Scheme.naive(T222), depth=depth, moves=moves)
    where = fg.space(T222)
    reached: dict[tuple, set] = {}

    def moved(node: tuple, move: str) -> set:
        if (node, move) not in reached:
            reached[node, move] = {where.canonical(t) for _, t in where.movers[move](graph.nodes[node]["scheme"])}
        return reached[node, move]

    for node, terms in graph.nodes(data="scheme"):
        assert where.canonical(terms) == node and _valid(terms)
    for a, b, move in graph.edges(data="move"):
        if move == "flip":  # stored both ways round
            assert b in moved(a, "flip") or a in moved(b, "flip")
        elif move == "reduce":  # a reduction of a, or a split of b found from below
            assert graph.nodes[a]["rank"] > graph.nodes[b]["rank"]
            assert b in moved(a, "reduce") or a in moved(b, "split")
        else:
            assert graph.nodes[a]["rank"] + 1 == graph.nodes[b]["rank"] and b in moved(a, move)


@pytest.mark.parametrize("domain", ["F3", "ZT"])
def test_other_domains_every_edge_is_exact(domain: str) -> None:
    """Over F3 and ZT flips use both signs; every node of a small walk holds exactly over the domain."""
    graph = fg.explore(Scheme.naive(T222), domain, depth=1, up_to="none", moves=("flip", "reduce"))
    where = fg.space(T222, domain, "none")
    naive = where.terms(Scheme.naive(T222))
    flips = list(fg.ring_flips(naive, fg.ring_of(domain)))
    assert len(flips) == 48 and len({t for _, t in flips}) == 48  # 12 pairs, both ways round, λ = ±1
    assert graph.number_of_nodes() == 49 and graph.graph["domain"] == domain
    for node in graph:
        assert verify(where.scheme(node), domain).valid
    strassen = where.terms(builtin_scheme("builtin:strassen"))
    for name in ("split", "plus"):
        for _, after in where.movers[name](strassen):
            assert len(after) == 8 and verify(where.scheme(after), domain).valid
            for _, back in where.movers["reduce"](after):
                assert verify(where.scheme(back), domain).valid


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["F3", "ZT", "F5"]))
def test_a_random_walk_over_a_ring_stays_valid(seed: int, domain: str) -> None:
    where = fg.space(T222, domain, "none")
    rng = np.random.default_rng(seed)
    terms = where.terms(Scheme.naive(T222))
    for _ in range(6):
        options = list(where.movers["flip"](terms))
        terms = options[rng.integers(len(options))][1]
        assert len(terms) == 8 and verify(where.scheme(terms), domain).valid


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
    out = run(flipforge_cmd, tmp_path, "graph", "path", "builtin:naive:2x2x2", "three.json", "--json")
    steps = json.loads(out.stdout)
    assert out.returncode == 0 and steps[0]["move"] == "start" and len(steps) <= 4, out.stderr
    out = run(flipforge_cmd, tmp_path, "graph", "three.json", "--depth", "1", "--json")
    assert json.loads(out.stdout)["complete"] is False
    out = run(flipforge_cmd, tmp_path, "graph", "builtin:strassen", "-d", "F3", "--up-to", "none", "--json")
    info = json.loads(out.stdout)
    assert info["domain"] == "F3" and info["nodes"] == 1 and info["flip_edges"] == 0  # Strassen has no flip


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
        (["builtin:naive:2x2x2", "builtin:strassen"], "path A B"),
        (["builtin:naive:2x2x2", "-d", "Q", "--up-to", "none"], "F_p or ZT"),
        (["builtin:naive:2x2x2", "-d", "ZT"], "--up-to none"),
        (["builtin:naive:2x2x2", "-d", "F4", "--up-to", "none"], "not a prime"),
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
