# PLACEHOLDER -- the real image (slim base, non-root user, pinned serving dependencies,
# an ONNX bundle copied in, EXPOSE, HEALTHCHECK, BentoML service) arrives with the serving
# issue. Until then this image only carries the CLI, so `docker build` already works.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 spotlight
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY market ./market
COPY features ./features
COPY training ./training
COPY serving ./serving
COPY spotlight ./spotlight
RUN pip install --no-cache-dir -c constraints.txt .
USER spotlight
ENTRYPOINT ["spotlight"]
CMD ["--help"]
