#!/bin/sh
# Registers the Temporal namespace $NAMESPACE (retention $RETENTION) once the frontend at
# $TEMPORAL_ADDRESS answers, and succeeds at once when it exists. Run by the compose service
# temporal-namespace, which the worker waits for.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
: "${NAMESPACE:?NAMESPACE is required}"
retention=${RETENTION:-72h}
attempts=${ATTEMPTS:-60}

i=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
	if [ "$i" -ge "$attempts" ]; then
		echo "temporal-namespace: $TEMPORAL_ADDRESS not healthy after $attempts attempts" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
	echo "temporal-namespace: $NAMESPACE exists"
	exit 0
fi
temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$retention"
echo "temporal-namespace: created $NAMESPACE (retention $retention)"
