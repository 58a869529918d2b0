/**
 * Content-MD5 for one DeleteObjects command, for S3-compatible stores that require it and refuse the
 * `x-amz-checksum-*` headers @aws-sdk/client-s3 sends since 3.729.0 (REFERENCE §5; the remedy of
 * aws-sdk-js-v3 supplemental-docs/MD5_FALLBACK.md). The middleware goes on the command's own stack,
 * never on the user's client, so every other request of that client keeps the SDK's checksums.
 */
import { createHash } from "node:crypto";
import type { DeleteObjectsCommand } from "@aws-sdk/client-s3";

/** The name of the middleware in a command's stack. */
export const CONTENT_MD5_MIDDLEWARE = "dynamodbS3CleanupContentMd5";

/** The part of the SDK's HTTP request the middleware reads. At the build step it is always there. */
interface BuiltRequest {
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** True for the headers the SDK's flexible checksums add, and for a Content-MD5 set before. */
function isChecksumHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith("x-amz-checksum-") || lower === "x-amz-sdk-checksum-algorithm" || lower === "content-md5";
}

/**
 * Makes `command` send a `Content-MD5` header (the base64 MD5 of its body) and no `x-amz-checksum-*`
 * or `x-amz-sdk-checksum-algorithm` header. The middleware runs at the build step with priority
 * "low": after the SDK's `flexibleChecksumsMiddleware` (build step, priority "normal") has added its
 * headers, and before the request is signed (finalizeRequest step). Returns the same command.
 */
export function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as BuiltRequest;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (!isChecksumHeader(name)) headers[name] = value;
      }
      headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
      return next({ ...args, request: { ...request, headers } });
    },
    { step: "build", priority: "low", name: CONTENT_MD5_MIDDLEWARE },
  );
  return command;
}
