# One image for every Powernode service; POWERNODE_SERVICE selects which one runs. The build stage compiles
# the TypeScript once (tsc -b); the image holds the compiled JavaScript and the production dependencies only.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/powernode
COPY package.json package-lock.json ./
COPY apps ./apps
COPY libs ./libs
COPY bin ./bin
COPY scripts/build.mjs ./scripts/
COPY tsconfig.json tsconfig.base.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund && node scripts/build.mjs && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends fsverity bubblewrap curl ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/powernode
COPY --from=build /opt/powernode ./
COPY docker/entrypoint.sh /usr/local/bin/powernode-entrypoint
ENV NODE_ENV=production POWERNODE_DATA_DIR=/var/lib/powernode HOST=0.0.0.0
VOLUME /var/lib/powernode
ENTRYPOINT ["/usr/local/bin/powernode-entrypoint"]
