# Duogui service image (used by docker-compose.yml). The database runs in its own container.
FROM node:20-bookworm-slim AS web
WORKDIR /srv/duogui/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --system --create-home --home-dir /srv/duogui duogui
WORKDIR /srv/duogui
COPY pyproject.toml constraints.txt README.md ./
COPY app/ app/
COPY layers/ layers/
COPY analysis/ analysis/
COPY migrations/ migrations/
RUN pip install -c constraints.txt -e . && mkdir -p .data && chown duogui:duogui .data
COPY --from=web /srv/duogui/web web/
# The map's glyph ranges (about 20 s, 7 MB), built once into the image.
RUN duogui glyphs
USER duogui
EXPOSE 8000
CMD ["sh", "-c", "duogui setup && exec duogui serve --host 0.0.0.0 --port 8000"]
