# One image for every IncidentFlow process; docker-compose picks the command per service.
FROM python:3.11-slim-bookworm
# kubectl for the kubectl executor, from Debian 12's archive at a pinned version (the base is
# pinned to bookworm so the package version exists): nothing is
# downloaded at run time. Debian 12 ships client 1.20; kubectl talks to servers within one
# minor version of it, so for a newer cluster mount a matching binary and point
# INCIDENTFLOW_EXECUTOR_KUBECTL at it (docs/remediation.md).
ARG KUBECTL_DEB_VERSION=1.20.5+really1.20.2-1.1+deb12u1
RUN apt-get update \
    && apt-get install -y --no-install-recommends "kubernetes-client=${KUBECTL_DEB_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && kubectl version --client
WORKDIR /app
COPY pyproject.toml README.md worker.py starter.py ./
COPY incidentflow ./incidentflow
COPY workflows ./workflows
COPY activities ./activities
RUN pip install --no-cache-dir . && useradd --create-home incidentflow
USER incidentflow
ENV INCIDENTFLOW_DATA_DIR=/home/incidentflow/data
CMD ["incidentflow", "--help"]
