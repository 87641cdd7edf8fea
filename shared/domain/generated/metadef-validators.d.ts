// Types of the generated validators (infra/codegen/metadef-validators.ts).
import type { ErrorObject } from 'ajv';

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
export declare const validateNamespace: Validator;
export declare const validateResourceTypeAssociation: Validator;
export declare const validateObject: Validator;
export declare const validateProperty: Validator;
export declare const validateTag: Validator;
