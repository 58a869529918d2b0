/**
 * Bucket names checked when a factory is called, so that a URL or an ARN given for a bucket fails
 * at cold start with a hint, instead of failing every request.
 *
 * The check refuses only what no bucket of any kind can be named: S3 today allows 3 to 63 lowercase
 * letters, digits, `.` and `-`; directory buckets (`name--azid--x-s3`) keep to those; buckets made
 * in us-east-1 before March 2018 may hold uppercase letters and `_` and reach 255 characters; and
 * S3-compatible stores have rules of their own. So a name may hold letters of either case, digits,
 * `.`, `-` and `_`, up to 255 characters. An access point ARN, which S3 takes in place of a bucket
 * name, passes too.
 */
import * as z from "zod/mini";
import { nonEmptyString } from "./validation.js";

/** The longest bucket name S3 ever allowed (us-east-1, before March 2018). */
export const MAX_BUCKET_NAME_LENGTH = 255;

/** An access point ARN (also Multi-Region and Outposts ones), which requests accept as `Bucket`. */
const ACCESS_POINT_ARN = /^arn:[a-z-]+:s3(?:-outposts)?:[a-z0-9-]*:\d{12}:(?:accesspoint|outpost)[/:]\S+$/;

/** The first character no bucket name has. */
const FOREIGN_CHARACTER = /[^A-Za-z0-9._-]/u;

/**
 * Why `name` cannot be a bucket's name, as the end of a sentence about the option (`bucket
 * "…" …`), or undefined when it may be one. An S3 URL or a bucket ARN gets a hint with the bare
 * name to pass instead.
 */
export function bucketNameProblem(name: string): string | undefined {
  const bare = (rest: string) => {
    const bucket = rest.split("/")[0] ?? "";
    return bucket === "" || bucketNameProblem(bucket) !== undefined ? "" : `: "${bucket}"`;
  };
  if (/^s3:\/\//i.test(name)) return `is an S3 URL; pass the bare bucket name${bare(name.slice(5))}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return "is a URL; pass the bare bucket name";
  if (/^arn:[a-z-]+:s3:::/.test(name)) {
    return `is a bucket ARN; pass the bare bucket name${bare(name.slice(name.indexOf(":::") + 3))}`;
  }
  if (ACCESS_POINT_ARN.test(name)) return undefined;
  if (name.startsWith("arn:"))
    return "is an ARN, and of an S3 resource only an access point ARN can stand for a bucket";
  if (name.length > MAX_BUCKET_NAME_LENGTH) {
    return `is ${name.length} characters long; a bucket name has at most ${MAX_BUCKET_NAME_LENGTH}`;
  }
  const foreign = FOREIGN_CHARACTER.exec(name)?.[0];
  if (foreign === undefined) return undefined;
  if (foreign === "/") return 'holds "/", which no bucket name has: the path belongs in the key (or `allowedPrefixes`)';
  if (/\s/.test(foreign)) return "holds whitespace, which no bucket name has";
  return `holds ${JSON.stringify(foreign)}, which no bucket name has (only letters, digits, ".", "-" and "_")`;
}

/** The rule of a bucket option: a non-empty string that may be a bucket's name ({@link bucketNameProblem}). */
export const bucketNameSchema = () =>
  nonEmptyString().check(
    z.superRefine((name, context) => {
      const problem = bucketNameProblem(name);
      if (problem !== undefined) context.addIssue({ code: "custom", message: problem, input: name });
    }),
  );
