# One image for all five Warden services; compose.yaml picks the service by
# command (warden-sensors, warden-governor, warden-actuator, warden-notifier, warden-web).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: a change to tests or docs does not rebuild it.
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && rm -rf /src
WORKDIR /

# Non-root by default; compose runs only the actuator as root, since it alone
# writes cgroups and talks to the Docker socket.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin warden \
    && install -d -o warden /var/lib/warden
USER warden

ENV WARDEN_CONFIG=/etc/warden/config.yaml
CMD ["warden-governor", "--config", "/etc/warden/config.yaml"]
