# The one app image: the API (`kpi-alerts serve`), the workers and beat (`celery -A workers.app`)
# and the migration (`kpi-alerts db upgrade`) all run it (docker-compose.yml). Configuration
# comes only from KPI_ALERTS_* variables (.env.example lists them all). `kpi-alerts demo` runs in
# it too: the example year ships inside the package (tests/e2e/test_wheel.py builds this context).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY alerts ./alerts
COPY config ./config
COPY returns ./returns
COPY rules ./rules
COPY workers ./workers
# the versions the suite last passed with (constraints.txt), not whatever is newest today
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /home/kpi --create-home kpi

# an unprivileged user; the working directory holds nothing the image needs (the database is
# PostgreSQL, the broker Redis), so a stray SQLite file never lands inside the package
USER kpi
WORKDIR /home/kpi
EXPOSE 8000
CMD ["kpi-alerts", "--help"]
