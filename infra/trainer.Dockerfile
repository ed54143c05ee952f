# Trainer image for Vertex AI custom jobs (infra/vertex/train-job.yaml names it).
#   docker build -f infra/trainer.Dockerfile -t REGION-docker.pkg.dev/PROJECT/gifrank/trainer:TAG .
# TensorFlow's GPU image brings CUDA and cuDNN matching tensorflow==2.21; gifrank goes on top.
FROM tensorflow/tensorflow:2.21.0-gpu

WORKDIR /opt/gifrank
COPY requirements.txt setup.py README.md ./
RUN pip install --no-cache-dir -r requirements.txt
COPY featurizer ./featurizer
COPY trainer ./trainer
COPY evaluation ./evaluation
COPY pipelines ./pipelines
COPY demo_world ./demo_world
RUN pip install --no-cache-dir --no-deps .

# Vertex AI passes the job's args to this entry point; AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and
# AIP_TENSORBOARD_LOG_DIR (set from baseOutputDirectory) say where the export, checkpoints and logs go.
ENTRYPOINT ["python", "-m", "trainer.task"]
