# Build stage: install with npm (Bun comes as a devDependency) and compile one executable.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Run stage: just the executable and a volume for the embedded database and secrets.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home /data bunim && mkdir -p /data && chown bunim /data
COPY --from=build /src/dist/bunim /usr/local/bin/bunim
USER bunim
WORKDIR /data
ENV IM_DATA_DIR=/data PORT=5001 IM_TCP_PORT=5100
VOLUME ["/data"]
EXPOSE 5001 5100
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s CMD ["/usr/local/bin/bunim", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/bunim", "serve"]
