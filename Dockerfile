# One image for all five Warden services; compose.yaml picks the service by
# command (warden-sensors, warden-governor, warden-actuator, warden-notifier, warden-web).
#
# Build arguments (compose.yaml passes them from .env):
#   BASE_IMAGE    any image with Python 3.11+ and pip (default: the official one)
#   EXTRAS        pip extras: `gpu` adds NVML for NVIDIA GPUs (AMD/Intel need none)
#   PIP_FLAGS     extra pip flags, e.g. `--no-index --no-build-isolation` for an
#                 offline build on a base image that already holds the dependencies
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG EXTRAS=""
ARG PIP_FLAGS=""

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # A distribution's Python (Debian's, say) refuses system-wide pip installs
    # without this; in a single-purpose image that is what we want.
    PIP_BREAK_SYSTEM_PACKAGES=1

# Only what the package needs: a change to tests or docs does not rebuild it.
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY host ./host
COPY services ./services
RUN python3 -m pip install ${PIP_FLAGS} ".${EXTRAS:+[${EXTRAS}]}" && rm -rf /src
WORKDIR /

# Non-root by default; compose runs only the actuator as root, since it alone
# writes cgroups and talks to the Docker socket. /var/lib/warden holds the
# notifier's outbox (a volume in compose, which takes this owner).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin warden \
    && install -d -o warden -g warden /var/lib/warden
USER warden

ENV WARDEN_CONFIG=/etc/warden/config.yaml
CMD ["warden-governor", "--config", "/etc/warden/config.yaml"]
