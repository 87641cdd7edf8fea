/**
 * API Gateway allows one path-parameter child per resource: a `{segment}` under `parentPath` is
 * recorded in `variableChild`, and a different one under the same parent refused at synthesis.
 */
export function claimPathParameter(variableChild: Map<string, string>, parentPath: string, segment: string, routePath: string): void {
  if (!segment.startsWith('{')) return;
  const existing = variableChild.get(parentPath);
  if (existing !== undefined && existing !== segment) {
    throw new Error(`Route path ${routePath}: ${segment} under ${parentPath} conflicts with ${existing} (one path parameter per level)`);
  }
  variableChild.set(parentPath, segment);
}
