"""``flipforge graph``: the flip graph around a scheme (networkx), and shortest flip paths."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flipforge.schemes import SchemeError

from ._common import OneLineCommand, fail, friendly_errors, one_source

WRITERS = (".graphml", ".gexf", ".json")


def _plain(graph, text):  # noqa: ANN001, ANN202 (a networkx graph in, one with printable nodes out)
    """The graph with nodes named by their hash and plain attributes (what graph files hold)."""
    import networkx as nx

    out = nx.MultiDiGraph(**{k: str(v) for k, v in graph.graph.items()})
    for _, data in graph.nodes(data=True):
        terms = text(data["scheme"])
        out.add_node(data["hash"], rank=data["rank"], additions=data["additions"], depth=data["depth"], terms=terms)
    for a, b, data in graph.edges(data=True):
        out.add_edge(graph.nodes[a]["hash"], graph.nodes[b]["hash"], move=data["move"], how=data["how"])
    return out


def _write(graph, out: str, text) -> None:  # noqa: ANN001
    import networkx as nx

    plain = _plain(graph, text)
    suffix = Path(out).suffix.lower()
    if suffix == ".graphml":
        nx.write_graphml(plain, out)
    elif suffix == ".gexf":
        nx.write_gexf(plain, out)
    else:
        Path(out).write_text(json.dumps(nx.node_link_data(plain, edges="edges"), indent=1) + "\n")


@click.command("graph", cls=OneLineCommand)
@click.argument("args", nargs=-1, required=True, metavar="SCHEME | path A B")
@click.option(
    "--domain", "-d", default="F2", show_default=True,
    help="Walk over F2, a prime field F<p> or ZT (coefficients in {-1,0,1}); symmetry classes over F2 only.",
)  # fmt: skip
@click.option("--depth", type=click.IntRange(0, None), help="Walk at most this many moves from the scheme.")
@click.option(
    "--max-nodes", type=click.IntRange(1, 10_000_000), default=10_000, show_default=True,
    help="Stop after this many walked nodes (the summary then says: incomplete); for a path, schemes tried.",
)  # fmt: skip
@click.option(
    "--up-to", type=click.Choice(["isotropy", "none"]), default="isotropy", show_default=True,
    help="Nodes are orbits under the symmetry group (isotropies, cyclic and transpose for <n,n,n>) or schemes.",
)  # fmt: skip
@click.option(
    "--moves", default="flip,reduce", show_default=True,
    help="Moves to walk: any of flip, reduce, split (inverse reduction), plus (plus transition).",
)  # fmt: skip
@click.option("--ranks", help="Ranks to walk from, LOW-HIGH (default: the scheme's rank only), e.g. 7-8.")
@click.option(
    "--no-leaves", "no_leaves", is_flag=True,
    help="Leave out the nodes outside --ranks that a move reaches (faster with split or plus).",
)  # fmt: skip
@click.option("--path-to", "path_to", help="Print the fewest flips from SCHEME to this scheme (or its orbit).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write the graph: .graphml, .gexf or .json.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or the path) as JSON.")
@friendly_errors
def graph_command(
    args: tuple[str, ...],
    domain: str,
    depth: int | None,
    max_nodes: int,
    up_to: str,
    moves: str,
    ranks: str | None,
    no_leaves: bool,
    path_to: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    """The flip graph around SCHEME, as a networkx graph: nodes are schemes (or their orbits
    under the target's symmetries), edges are flips (undirected, self-loops when a flip stays in
    its orbit), reductions (to the rank below) and, if asked, splits and plus transitions.

    Prints nodes, edges by move, self-loops, connected components, diameter, the exits (nodes with
    a reduction) and the degree histogram; --max-nodes (default 10000) keeps a big scheme from
    running away. `flipforge graph path A B` (or `graph A --path-to B`) prints the fewest flips
    from A to B's orbit, every scheme on the way proven. A scheme is a file or builtin:naive:2x2x2,
    builtin:strassen, ...; it must be valid over --domain (F2 reads entries mod 2). Symmetry
    classes are over F2, for groups small enough to try each element (<2,2,2>, <2,2,3>, ...);
    over F3 or ZT use --up-to none.

    \b
    Examples:
      flipforge graph builtin:naive:2x2x2                 # the rank-8 flip graph of <2,2,2>: 265 orbits
      flipforge graph builtin:naive:2x2x2 -o g.graphml    # for Gephi, networkx, ...
      flipforge graph path builtin:naive:2x2x2 g.json --json
      flipforge graph builtin:naive:2x2x2 -d F3 --up-to none --depth 1
    """
    from flipforge.search import flipgraph as fg
    from flipforge.verify import verify

    if args[0] == "path" and len(args) == 3:
        args, path_to = args[1:2], args[2]
    elif len(args) != 1:
        fail(f"give one SCHEME, or: path A B (not {len(args)} arguments)")
    scheme = args[0]
    start = one_source(scheme, None).scheme
    assert start is not None
    where = fg.space(start.tensor, domain, up_to)
    if not verify(start.with_domain(where.domain), where.domain).valid:
        fail(f"{scheme}: not a valid scheme over {where.domain}")
    if out is not None and Path(out).suffix.lower() not in WRITERS:
        fail(f"--out {out}: the file name must end in {', '.join(WRITERS)}")
    if path_to is not None:
        goal = one_source(path_to, None).scheme
        assert goal is not None
        if not verify(goal.with_domain(where.domain), where.domain).valid:
            fail(f"{path_to}: not a valid scheme over {where.domain}")
        steps = fg.shortest_path(start, goal, up_to, max_nodes, domain=where.domain)
        for _, terms in steps:  # every scheme on the way is proven
            if not verify(where.scheme(terms), where.domain).valid:
                raise SchemeError("internal: a flip produced an invalid scheme")
        if as_json:
            click.echo(json.dumps([{"move": m, "terms": where.text(t)} for m, t in steps]))
        else:
            orbit = "the orbit of " if up_to != "none" else ""
            click.echo(f"{len(steps) - 1} flip(s) from {scheme} to {orbit}{path_to}:")
            for i, (move, _) in enumerate(steps[1:], 1):
                click.echo(f"  {i}. {move}")
        return
    wanted = tuple(m.strip() for m in moves.split(",") if m.strip())
    window = None
    if ranks is not None:
        try:
            low, high = (int(x) for x in ranks.split("-"))
        except ValueError:
            fail(f"--ranks {ranks!r}: give LOW-HIGH, e.g. 7-8")
        window = (low, high)
    graph = fg.explore(
        start,
        where.domain,
        depth=depth,
        max_nodes=max_nodes,
        up_to=up_to,
        moves=wanted,
        ranks=window,
        leaves=not no_leaves,
    )
    info = fg.summary(graph)
    if out is not None:
        _write(graph, out, where.text)
    if as_json:
        click.echo(json.dumps(info))
        return
    state = "complete" if info["complete"] else "incomplete (--depth or --max-nodes reached)"
    click.echo(
        f"{info['target']} rank {info['rank']} over {info['domain']}, up to {up_to} "
        f"(group of {info['group_size']}): {state}"
    )
    click.echo(
        f"  {info['nodes']} nodes, {info['flip_edges']} flip edges ({info['self_loops']} self-loops), "
        f"{info['components']} component(s), diameter {info['diameter'] if info['diameter'] is not None else '-'}"
    )
    moved = ", ".join(f"{m} {c}" for m, c in info["edges_by_move"].items()) or "none"
    click.echo(f"  edges by move: {moved}; {info['all_nodes']} node(s) in all")
    click.echo(f"  exits (nodes with a reduction): {len(info['exits'])}, to {info['nodes_below']} node(s) below")
    click.echo("  degrees: " + ", ".join(f"{d}:{c}" for d, c in info["degrees"].items()))
    if out is not None:
        click.echo(f"  -> {out}")
