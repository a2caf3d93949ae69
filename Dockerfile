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

# A user of its own for each non-root service (compose.yaml's `user:`), so that none
# can read another's secret files, or its /proc/<pid>/root and environ (the sensors
# share the host's PID namespace); only the actuator runs as root. The uids are
# compose.yaml's and scripts/compose-setup's, which hands each secret file to its
# service's uid. State directories as systemd's StateDirectory= lays them out:
# /var/lib/warden the actuator's (root), web/ and notifier/ their own (compose
# mounts a volume on each, which takes its owner from here on first use).
RUN for entry in sensors:10011 governor:10012 notifier:10013 web:10014; do \
        name="warden-${entry%%:*}" id="${entry##*:}"; \
        groupadd --system --gid "$id" "$name" \
        && useradd --system --uid "$id" --gid "$id" --no-create-home \
            --shell /usr/sbin/nologin "$name" || exit 1; \
    done \
    && install -d -m 0755 /var/lib/warden \
    && install -d -m 0700 -o warden-web -g warden-web /var/lib/warden/web \
    && install -d -m 0700 -o warden-notifier -g warden-notifier /var/lib/warden/notifier
# The default command's.
USER warden-governor

ENV WARDEN_CONFIG=/etc/warden/config.yaml
CMD ["warden-governor", "--config", "/etc/warden/config.yaml"]
