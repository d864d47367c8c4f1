# pi-manage's container image. By default it runs the scheduler on the job files mounted at
# /etc/privacyidea/jobs, with privacyIDEA's pi.cfg (and its enckey) mounted at /etc/privacyidea:
#
#   docker build -t pi-manage .
#   docker run --rm -v /etc/privacyidea:/etc/privacyidea:ro pi-manage
#   docker run --rm -v /etc/privacyidea:/etc/privacyidea:ro pi-manage run /etc/privacyidea/jobs/nightly.yaml
#
# The entrypoint is pi-manage itself, so any arguments (Kubernetes `args:`) are its command line.
# docs/scheduler.md has the Kubernetes Deployment and CronJob that use this image.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The crate registry and target directory are build caches, not image layers.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pi-manage \
    && install -D -m 0755 target/release/pi-manage /out/pi-manage

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: the system trust store for TLS to the database (sslmode=verify-full, ssl_ca…).
# The database clients are what `backup`/`backup restore` run (pg_dump/psql, mariadb-dump/mariadb);
# build with --build-arg DB_CLIENTS= to leave them out, or name the ones your servers need
# (pg_dump must be at least as new as the PostgreSQL server).
ARG DB_CLIENTS="postgresql-client mariadb-client"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates ${DB_CLIENTS} \
    && rm -rf /var/lib/apt/lists/*
# A non-root user with a fixed numeric id (Kubernetes' runAsNonRoot checks the number), named
# like the user privacyIDEA's own packages create.
RUN groupadd --system --gid 10001 privacyidea \
    && useradd --uid 10001 --gid privacyidea --home-dir /var/lib/privacyidea \
       --no-create-home --shell /usr/sbin/nologin privacyidea \
    && install -d -m 0755 /etc/privacyidea /etc/privacyidea/jobs \
    && install -d -m 0700 -o privacyidea -g privacyidea /var/lib/privacyidea /var/lib/privacyidea/backup
COPY --from=build /out/pi-manage /usr/bin/pi-manage
COPY jobs/ /usr/share/doc/pi-manage/examples/
USER 10001:10001
WORKDIR /var/lib/privacyidea
# /metrics and /healthz, when the scheduler runs with --metrics-listen 0.0.0.0:9464.
EXPOSE 9464
ENTRYPOINT ["/usr/bin/pi-manage"]
CMD ["schedule", "/etc/privacyidea/jobs"]
