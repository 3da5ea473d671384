// The spiffworkflow BPMN extensions our runtime reads, as a bpmn-moddle descriptor,
// so the modeler keeps and edits them (properties, service task operator, pre/post scripts).
(function () {
  "use strict";
  window.SPIFF_MODDLE = {
    name: "Spiff",  // a label only: the prefix and URI below are what the engine reads
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "ServiceTaskOperator", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" },
                     { name: "resultVariable", isAttr: true, type: "String" },
                     { name: "parameterList", type: "Parameters" }] },
      { name: "Parameters", superClass: ["Element"],
        properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      { name: "Parameter", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" }, { name: "type", isAttr: true, type: "String" },
                     { name: "value", isAttr: true, type: "String" }] },
      { name: "PreScript", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "PostScript", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "CalledDecisionId", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      // Message events: where the payload goes, what is sent, and correlations. A spiffworkflow
      // element missing here would be dropped silently on save, so every one the engine reads is listed.
      { name: "MessageVariable", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "MessagePayload", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "ProcessVariableCorrelation", superClass: ["Element"],
        properties: [{ name: "propertyId", type: "PropertyId" }, { name: "expression", type: "Expression" }] },
      { name: "PropertyId", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "Expression", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "InstructionsForEndUser", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "TaskMetadataValues", superClass: ["Element"],
        properties: [{ name: "values", type: "TaskMetadataValue", isMany: true }] },
      { name: "TaskMetadataValue", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "UnitTests", superClass: ["Element"], properties: [{ name: "unitTests", type: "UnitTest", isMany: true }] },
      { name: "UnitTest", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" }, { name: "inputJson", type: "InputJson" },
                     { name: "expectedOutputJson", type: "ExpectedOutputJson" }] },
      { name: "InputJson", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "ExpectedOutputJson", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "LoopScripts", isAbstract: true, extends: ["bpmn:MultiInstanceLoopCharacteristics"],
        properties: [{ name: "scriptsOnInstances", isAttr: true, type: "Boolean" }] }
    ],
    enumerations: []
  };
})();
