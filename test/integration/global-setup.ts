/**
 * Starts moto and DynamoDB Local once for the integration tests and stops them afterwards, also
 * when tests fail. If a server cannot start, the run fails: nothing is skipped.
 */
import type { TestProject } from "vitest/node";
import { startLocalServices } from "../services/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    motoEndpoint: string;
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const services = await startLocalServices();
  project.provide("motoEndpoint", services.moto.endpoint);
  project.provide("dynamodbEndpoint", services.dynamodbLocal.endpoint);
  return () => services.stop();
}
