"""`python -m mixbuild`: the same as the `mixbuild` console script."""

from mixbuild.pipeline.launch import main

if __name__ == "__main__":
    main()
