"""`python -m mixbuild.pipeline.cli`: the same as the `mixbuild` console script."""

from . import main

if __name__ == "__main__":
    main()
