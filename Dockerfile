# One image for the API and the workers; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY . .
RUN pip install --no-cache-dir -c constraints.txt . && rm -rf build *.egg-info

# Run unprivileged; the app writes nothing locally when OMS_DATABASE_URL is set.
RUN useradd --system --uid 10001 --no-create-home oms
USER oms

EXPOSE 8000
CMD ["python", "-m", "workers.main"]
