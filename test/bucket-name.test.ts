import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketNameProblem, MAX_BUCKET_NAME_LENGTH } from "../src/bucket-name.js";

describe("bucketNameProblem", () => {
  it.each([
    ["a general purpose bucket", "product-images"],
    ["a name with dots", "images.example.com"],
    ["a directory bucket", "product-images--use1-az4--x-s3"],
    ["a legacy us-east-1 bucket with uppercase letters and underscores", "Product_Images"],
    ["a legacy bucket of 255 characters", "a".repeat(MAX_BUCKET_NAME_LENGTH)],
    ["a short name, as S3-compatible stores and tests use", "b"],
    ["an access point ARN", "arn:aws:s3:eu-west-1:123456789012:accesspoint/images"],
    ["a Multi-Region Access Point ARN", "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"],
    [
      "an Outposts access point ARN",
      "arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01ac5d28a6a232904/accesspoint/images",
    ],
    ["an access point ARN in another partition", "arn:aws-cn:s3:cn-north-1:123456789012:accesspoint/images"],
  ])("accepts %s", (_, name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
  });

  it.each([
    ["an S3 URL", "s3://product-images", 'is an S3 URL; pass the bare bucket name: "product-images"'],
    [
      "an S3 URL with a path",
      "S3://product-images/images/",
      'is an S3 URL; pass the bare bucket name: "product-images"',
    ],
    ["an S3 URL without a bucket", "s3://", "is an S3 URL; pass the bare bucket name"],
    ["an S3 URL whose bucket is no name either", "s3://my bucket", "is an S3 URL; pass the bare bucket name"],
    ["an HTTPS URL", "https://product-images.s3.amazonaws.com", "is a URL; pass the bare bucket name"],
    ["a bucket ARN", "arn:aws:s3:::product-images", 'is a bucket ARN; pass the bare bucket name: "product-images"'],
    [
      "an object ARN",
      "arn:aws-us-gov:s3:::product-images/images/p-1.png",
      'is a bucket ARN; pass the bare bucket name: "product-images"',
    ],
    [
      "an ARN of another resource",
      "arn:aws:s3:eu-west-1:123456789012:job/1",
      "is an ARN, and of an S3 resource only an access point ARN can stand for a bucket",
    ],
    [
      "a name over 255 characters",
      "a".repeat(MAX_BUCKET_NAME_LENGTH + 1),
      "is 256 characters long; a bucket name has at most 255",
    ],
    [
      "a name with a path",
      "product-images/images",
      'holds "/", which no bucket name has: the path belongs in the key (or `allowedPrefixes`)',
    ],
    ["a name with a space", "product images", "holds whitespace, which no bucket name has"],
    ["a name with a tab at its end", "product-images\t", "holds whitespace, which no bucket name has"],
    [
      "a name with a colon",
      "product:images",
      'holds ":", which no bucket name has (only letters, digits, ".", "-" and "_")',
    ],
    [
      "a name with an emoji",
      "images📷",
      'holds "📷", which no bucket name has (only letters, digits, ".", "-" and "_")',
    ],
    [
      "a name with a control character",
      "images\u0000",
      'holds "\\u0000", which no bucket name has (only letters, digits, ".", "-" and "_")',
    ],
  ])("refuses %s", (_, name, problem) => {
    expect(bucketNameProblem(name)).toBe(problem);
  });

  it("accepts every name of 1 to 255 letters, digits, dots, hyphens and underscores", () => {
    const character = fc.constantFrom(..."abcXYZ019.-_");
    fc.assert(
      fc.property(fc.string({ unit: character, minLength: 1, maxLength: MAX_BUCKET_NAME_LENGTH }), (name) => {
        expect(bucketNameProblem(name)).toBeUndefined();
      }),
    );
  });

  it("refuses every name with any other character", () => {
    const allowed = fc.string({ unit: fc.constantFrom(..."ab9.-_"), maxLength: 10 });
    const other = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 1 })
      .filter((c) => !/^[A-Za-z0-9._-]$/.test(c));
    fc.assert(
      fc.property(allowed, other, allowed, (before, character, after) => {
        expect(bucketNameProblem(`${before}${character}${after}`)).toBeDefined();
      }),
    );
  });
});
