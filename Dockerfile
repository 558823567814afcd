# One image for every Powernode service; POWERNODE_SERVICE selects which one runs.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/powernode
COPY package.json package-lock.json ./
COPY apps ./apps
COPY libs ./libs
COPY bin ./bin
COPY tsconfig.json tsconfig.base.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends fsverity bubblewrap curl ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/powernode
COPY --from=build /opt/powernode ./
COPY docker/entrypoint.sh /usr/local/bin/powernode-entrypoint
ENV NODE_ENV=production POWERNODE_DATA_DIR=/var/lib/powernode HOST=0.0.0.0
VOLUME /var/lib/powernode
ENTRYPOINT ["/usr/local/bin/powernode-entrypoint"]
