#!/usr/bin/env node
// Reads the simulators' OPC UA nodes with a second, independent OPC UA stack (node-opcua)
// and prints what it found as JSON, so a test (or a person) can compare it with asyncua.
//
//   node read.js opc.tcp://127.0.0.1:14841/facility '{"namespace": "urn:facility:devices",
//     "node_ids": ["ns=2;s=HT-TNK-001.Level"], "browse_paths": ["HT-FAP-001/Zones/Zone01/State"]}'
//
// browse_paths are relative to Objects, each part in the given namespace. Output: one line
//   RESULT {"namespace_index": 2, "node_ids": {"<id>": {...}}, "browse_paths": {...}}
// (node-opcua prints its own notices on stdout too, hence the prefix)
// where each entry is {"status": "Good", "value": ..., "data_type": "Double",
// "source_timestamp": "..."} or {"status": "BadNodeIdUnknown"}. Exit 0 when it could talk to
// the server at all (per-node errors are data), 1 otherwise.
"use strict";

const {
  OPCUAClient,
  AttributeIds,
  DataType,
  MessageSecurityMode,
  SecurityPolicy,
  makeBrowsePath,
} = require("node-opcua-client");

function describe(dataValue) {
  const out = { status: dataValue.statusCode.name };
  if (dataValue.statusCode.isGood()) {
    let value = dataValue.value.value;
    if (typeof value === "bigint") value = value.toString();
    if (value !== null && typeof value === "object" && value.length !== undefined) {
      value = Array.from(value); // Int64 comes as [high, low]
    }
    out.value = value;
    out.data_type = DataType[dataValue.value.dataType];
    out.source_timestamp = dataValue.sourceTimestamp
      ? dataValue.sourceTimestamp.toISOString()
      : null;
  }
  return out;
}

async function main() {
  const [url, specText] = process.argv.slice(2);
  if (!url || !specText) {
    console.error("usage: node read.js <opc.tcp://host:port/path> '<json spec>'");
    process.exit(2);
  }
  const spec = JSON.parse(specText);
  const client = OPCUAClient.create({
    applicationName: "facility-opcua-interop",
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 10000,
  });
  const result = { namespace_index: null, node_ids: {}, browse_paths: {} };
  await client.connect(url);
  try {
    const session = await client.createSession();
    try {
      const namespaces = await session.readNamespaceArray();
      const index = namespaces.indexOf(spec.namespace || "urn:facility:devices");
      result.namespace_index = index;

      for (const nodeId of spec.node_ids || []) {
        const dataValue = await session.read({ nodeId, attributeId: AttributeIds.Value });
        result.node_ids[nodeId] = describe(dataValue);
      }
      for (const path of spec.browse_paths || []) {
        const relative = path
          .split("/")
          .filter((part) => part.length > 0)
          .map((part) => `/${index}:${part}`)
          .join("");
        const found = await session.translateBrowsePath(
          makeBrowsePath("ObjectsFolder", relative)
        );
        if (!found.statusCode.isGood() || found.targets.length === 0) {
          result.browse_paths[path] = { status: found.statusCode.name };
          continue;
        }
        const nodeId = found.targets[0].targetId.toString();
        const dataValue = await session.read({ nodeId, attributeId: AttributeIds.Value });
        result.browse_paths[path] = { node_id: nodeId, ...describe(dataValue) };
      }
    } finally {
      await session.close();
    }
  } finally {
    await client.disconnect();
  }
  process.stdout.write("RESULT " + JSON.stringify(result) + "\n");
}

main().catch((err) => {
  console.error(`node-opcua: ${err.message}`);
  process.exit(1);
});
