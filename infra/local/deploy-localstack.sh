#!/usr/bin/env bash
# Deploys the stack to LocalStack (docker compose up -d first) with cdklocal, trusting the
# local dev key so that `npm run -s token` tokens work against it. Needs a Docker engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
jwks=$(npx tsx infra/local/jwks-cli.ts)
npx cdklocal bootstrap
npx cdklocal deploy --require-approval never --outputs-file .skyglass/localstack-outputs.json \
  -c skyglass:stage=local \
  -c skyglass:createUserPool=false \
  -c skyglass:jwtIssuer=skyglass-local \
  -c skyglass:jwtAudience=skyglass \
  -c "skyglass:jwksJson=${jwks}"
echo "Outputs in .skyglass/localstack-outputs.json; run the API suite with:"
echo "  SKYGLASS_API_URL=<ApiUrl> SKYGLASS_DYNAMODB_ENDPOINT=http://localhost:4566 SKYGLASS_TABLE_NAME=<TableName> npm run test:remote"
