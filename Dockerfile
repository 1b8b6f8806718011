# One image for every Handover service; docker-compose picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY services services
COPY calculator calculator
RUN pip install --no-cache-dir . && useradd --system --home /app handover \
    && mkdir -p /var/lib/handover && chown handover:handover /var/lib/handover
# data_dir (deploy/handover.toml): a new named volume takes this directory's owner, so the
# file and maildir targets can write there.
VOLUME /var/lib/handover
USER handover
EXPOSE 8080
ENTRYPOINT ["handover"]
CMD ["run"]
