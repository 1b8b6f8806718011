# One image for every Handover service; docker-compose picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY services services
COPY calculator calculator
RUN pip install --no-cache-dir . && useradd --system --home /app handover
USER handover
EXPOSE 8080
ENTRYPOINT ["handover"]
CMD ["run"]
