# The database image of docker-compose.yml: PostGIS and pgRouting (the facility gap analysis walks the road
# network with pgr_drivingDistance; migration 0016 creates the extension). The postgres base image carries
# the PGDG apt repository, which has the package.
FROM postgis/postgis:15-3.4
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-pgrouting \
 && rm -rf /var/lib/apt/lists/*
