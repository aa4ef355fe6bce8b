# syntax=docker/dockerfile:1
# deploy-notify sidecar. Build: docker build -t deploy-notify .
# Run: docker run -p 8080:8080 -e NOTIFY_TOKEN=... -v deploy-notify-data:/data deploy-notify

# Node 24 is the current LTS (the package needs >= 20).
FROM node:24-slim AS build
WORKDIR /app
# Dependencies first: this layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci
# Everything the build may read; .dockerignore keeps node_modules, dist and data out.
COPY . .
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist

# The store keeps the current version per app here. Created and chowned before VOLUME: changes
# to a volume's path after it is declared are discarded.
RUN mkdir /data && chown node:node /data
ENV DATA_DIR=/data
VOLUME /data

USER node
EXPOSE 8080
# Slim images have no curl; node's own fetch asks /healthz on whatever PORT is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs, minus its prestart build (the image has no dev dependencies), and
# without npm in between, so SIGTERM reaches the sidecar and it shuts down cleanly.
CMD ["node", "dist/cli/cli.js", "serve"]
