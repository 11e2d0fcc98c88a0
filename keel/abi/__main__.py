"""`python -m keel.abi`: rewrite the bundled ABIs from the compiled build (compiles first)."""

from keel.abi import HERE, write_from_build
from keel.chain import project


def main() -> int:
    from brownie import project as brownie_project

    if not brownie_project.get_loaded_projects():
        import os

        root = HERE.parents[1]
        brownie_project.load(os.fspath(root), name="KeelProject")
    build = HERE.parents[1] / "build" / "contracts"
    for p in write_from_build(build):
        print(f"wrote {p.relative_to(HERE.parents[1])}")
    project()  # loaded: the build is current
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
