# The GPU worker for featurize's C3D step on Dataflow (--sdk_container_image with
# --c3d-accelerator "type:nvidia-l4;count:1;install-nvidia-driver"): the CPU worker's contents,
# with TensorFlow's CUDA libraries (tensorflow[and-cuda], the version requirements.txt pins).
# Dataflow installs the NVIDIA driver (install-nvidia-driver); the image brings CUDA and cuDNN.
# Also a Flex Template launcher, as infra/Dockerfile.
#   docker build -f infra/gpu.Dockerfile -t REGION-docker.pkg.dev/PROJECT/gifrank/worker-gpu:TAG .
# Google documents the launcher base under :latest; pin its digest (@sha256:...) for reproducible builds.
# hadolint ignore=DL3007
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:latest AS launcher

FROM apache/beam_python3.11_sdk:2.77.0

COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher
WORKDIR /opt/gifrank
COPY requirements.txt setup.py README.md ./
RUN pip install --no-cache-dir -r requirements.txt "tensorflow[and-cuda]==2.21.*"
COPY pipelines ./pipelines
COPY featurizer ./featurizer
COPY trainer ./trainer
COPY evaluation ./evaluation
COPY demo_world ./demo_world
RUN pip install --no-cache-dir --no-deps .

# Several SDK processes share a worker's GPU: each takes GPU memory as it needs it, not all of it.
ENV TF_FORCE_GPU_ALLOW_GROWTH=true \
    FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/gifrank/pipelines/flex_template.py \
    FLEX_TEMPLATE_PYTHON_SETUP_FILE=/opt/gifrank/setup.py
ENTRYPOINT ["/opt/apache/beam/boot"]
