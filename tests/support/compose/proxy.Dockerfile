# The Docker API proxy of the compose test, from the Debian base the test builds.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY haproxy.cfg /etc/haproxy/haproxy.cfg
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
