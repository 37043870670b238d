/**
 * The Standard Schema interface (https://standardschema.dev), copied as the spec recommends so
 * that game developers can validate commands with zod, valibot or arktype without this package
 * depending on any of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
}

/** Synchronous validation; an async validator is a definition error (commands are decided synchronously). */
export function validateSync<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): { ok: true; value: T } | { ok: false; message: string } {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) throw new TypeError('command schemas must validate synchronously');
  if (result.issues === undefined) return { ok: true, value: result.value };
  const message = result.issues
    .slice(0, 3)
    .map((issue) => {
      const path = (issue.path ?? []).map((segment) => (typeof segment === 'object' ? String(segment.key) : String(segment))).join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
  return { ok: false, message };
}
