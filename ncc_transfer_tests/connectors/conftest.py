"""The route tests' own collection rule: the route contract runs route by route."""

from __future__ import annotations

CONTRACT_MODULE = "test_route_contract.py"


def pytest_collection_modifyitems(session, config, items) -> None:
    """Run the contract's tests grouped by route (each test's own order kept within a route).

    Every contract test serves the same school afresh; the simulator keeps a bounded number of renderings
    of it (``RenderCache``), so a route's tests in a row reuse them where tests interleaving eight routes
    would render the school again for nearly every test. What each test checks is unchanged."""
    slots = [i for i, item in enumerate(items) if item.path.name == CONTRACT_MODULE]
    if not slots:
        return
    contract = [items[i] for i in slots]
    routes: list[str] = []
    for item in contract:
        route = getattr(item, "callspec", None) and item.callspec.params.get("route")
        if route and route not in routes:
            routes.append(route)

    def by_route(numbered):
        n, item = numbered
        route = getattr(item, "callspec", None) and item.callspec.params.get("route")
        return (routes.index(route) if route else -1, n)

    for slot, (_, item) in zip(slots, sorted(enumerate(contract), key=by_route)):
        items[slot] = item
