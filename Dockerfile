# ganbench in a container: `docker build -t ganbench .` then
#   docker run --rm --gpus all --shm-size=2g -v "$PWD/results:/results" -v ganbench-cache:/cache ganbench
# runs `ganbench run suites/mnist_all.yaml --quick` and leaves results/ (tables, plots,
# mlflow.db) in the mounted folder. Any other command works too, e.g.
#   docker run --rm ganbench ganbench validate suites/toy2d.yaml
#
# torch: the PyPI wheels of torch 2.14.1 for Linux x86_64 are CUDA builds that bring their own
# CUDA runtime (nvidia-* wheels), so this image uses a GPU with `--gpus all` (the host needs
# the NVIDIA driver and the NVIDIA Container Toolkit) and falls back to the CPU without one.
# For a smaller CPU-only image:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu -t ganbench:cpu .
FROM python:3.11-slim

ARG TORCH_INDEX=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    GANBENCH_CACHE=/cache \
    RAY_AUTH_MODE=disabled \
    RAY_USAGE_STATS_ENABLED=0

WORKDIR /opt/ganbench
# the pinned torch/torchvision first (their own layer: the largest and the least changing)
RUN pip install --index-url "${TORCH_INDEX}" --extra-index-url https://pypi.org/simple \
        torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY ganbench ganbench
COPY suites suites
RUN pip install . && ganbench list methods > /dev/null

# results (tables, plots, MLflow store) and the dataset/weights cache live outside the image
VOLUME ["/results", "/cache"]
CMD ["ganbench", "run", "suites/mnist_all.yaml", "--quick", "--results", "/results"]
