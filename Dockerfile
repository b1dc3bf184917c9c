# One image for every IncidentFlow process; docker-compose picks the command per service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md worker.py starter.py ./
COPY incidentflow ./incidentflow
COPY workflows ./workflows
COPY activities ./activities
RUN pip install --no-cache-dir . && useradd --create-home incidentflow
USER incidentflow
ENV INCIDENTFLOW_DATA_DIR=/home/incidentflow/data
CMD ["incidentflow", "--help"]
