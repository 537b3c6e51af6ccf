#!/bin/sh
# Registers the Temporal namespace $NAMESPACE (retention $RETENTION) and canaryflow's search
# attributes in it once the frontend at $TEMPORAL_ADDRESS answers. Both steps are safe to
# repeat: an existing namespace is kept, and the server skips a search attribute that exists
# with the same type (the CLI refuses one with another type, which the worker would too).
# Run by the compose service temporal-namespace, which the worker waits for.
#
# SEARCH_ATTRIBUTES is "Name=Type ..." as rollout.SearchAttrTypes lists them;
# deploy/compose/compose_test.go keeps docker-compose.yml's list equal to it.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
: "${NAMESPACE:?NAMESPACE is required}"
: "${SEARCH_ATTRIBUTES:?SEARCH_ATTRIBUTES is required}"
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
	echo "temporal-namespace: namespace $NAMESPACE exists"
else
	temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$retention"
	echo "temporal-namespace: created namespace $NAMESPACE (retention $retention)"
fi

# One create call for all of them: --name and --type pair up in order.
set --
for pair in $SEARCH_ATTRIBUTES; do
	set -- "$@" --name "${pair%%=*}" --type "${pair#*=}"
done
temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" "$@"
echo "temporal-namespace: search attributes $SEARCH_ATTRIBUTES registered in $NAMESPACE"
