#!/usr/bin/env bash
# newsbeam on a Flink 1.20 session cluster without Kubernetes: the same parts as
# flinkdeployment.yaml, as plain `docker run` commands on one host (a laptop or a VM).
# Usage: deploy/flink/session-cluster.sh REGISTRY/newsbeam-sdk:0.1.0   (then see deploy/README.md)
set -euo pipefail
SDK_IMAGE="${1:?usage: $0 SDK_IMAGE}"
FLINK_IMAGE="flink:1.20"
JOB_SERVER_IMAGE="apache/beam_flink1.20_job_server:2.77.0"

# /tmp/newsbeam on the host is the shared folder: the job server stages artifacts in it, the
# TaskManager serves them from it, and the workers read pages and write Avro under /shared.
mkdir -p /tmp/newsbeam
docker network create newsbeam-flink 2>/dev/null || true
# The JobManager publishes its REST API on 8081; TaskManagers find it by name.
docker run -d --name newsbeam-jobmanager --network newsbeam-flink -p 8081:8081 \
  -e FLINK_PROPERTIES="jobmanager.rpc.address: newsbeam-jobmanager" \
  "$FLINK_IMAGE" jobmanager
docker run -d --name newsbeam-taskmanager --network newsbeam-flink \
  -e FLINK_PROPERTIES=$'jobmanager.rpc.address: newsbeam-jobmanager\ntaskmanager.numberOfTaskSlots: 2' \
  -v /tmp/newsbeam:/shared \
  "$FLINK_IMAGE" taskmanager
# The SDK worker pool shares the TaskManager's network namespace: for the TaskManager it is
# localhost:50000, which is what --environment_config names at submission.
docker run -d --name newsbeam-worker-pool --network container:newsbeam-taskmanager \
  -v /tmp/newsbeam:/shared \
  "$SDK_IMAGE" --worker_pool
# Beam's Flink job server of the pinned release: job API on 8099, artifact staging on 8098.
docker run -d --name newsbeam-job-server --network newsbeam-flink -p 8099:8099 -p 8098:8098 \
  -v /tmp/newsbeam:/shared \
  "$JOB_SERVER_IMAGE" --flink-master=newsbeam-jobmanager:8081 --job-host=0.0.0.0 \
  --artifacts-dir=/shared/beam-artifacts
echo "Flink UI: http://localhost:8081   Beam job endpoint: localhost:8099"
