import Tracing

/// OTLP/JSON encoding of a batch: one `ExportTraceServiceRequest` object
/// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as lowercase hex,
/// 64-bit integers as decimal strings, enums as integers, lowerCamelCase keys.
struct OTLPJSON {
    let serviceName: String
    let serviceVersion: String?

    func encode(_ spans: [FinishedSpan]) -> [UInt8] {
        var json = JSONWriter(reservingCapacity: 512 + spans.count * 400)
        json.object { json in
            json.key("resourceSpans")
            json.array { json in
                json.object { json in
                    json.key("resource")
                    json.object { json in
                        json.key("attributes")
                        json.array { json in
                            Self.attribute(&json, "service.name", .string(serviceName))
                            if let serviceVersion {
                                Self.attribute(&json, "service.version", .string(serviceVersion))
                            }
                        }
                    }
                    json.key("scopeSpans")
                    json.array { json in
                        json.object { json in
                            json.key("scope")
                            json.object { json in json.field("name", "ats") }
                            json.key("spans")
                            json.array { json in
                                for span in spans { Self.span(&json, span) }
                            }
                        }
                    }
                }
            }
        }
        return json.bytes
    }

    private static func span(_ json: inout JSONWriter, _ span: FinishedSpan) {
        json.object { json in
            json.field("traceId", span.traceID.hex)
            json.field("spanId", Hex.encode(span.spanID))
            if let parent = span.parentSpanID { json.field("parentSpanId", Hex.encode(parent)) }
            if let state = span.traceState { json.field("traceState", state) }
            json.field("name", span.name)
            json.key("kind")
            json.int(span.kind.otlpValue)
            json.field("startTimeUnixNano", String(span.startNanos))
            json.field("endTimeUnixNano", String(span.endNanos))
            json.key("attributes")
            attributes(&json, span.attributes)
            if !span.events.isEmpty {
                json.key("events")
                json.array { json in
                    for event in span.events {
                        json.object { json in
                            json.field("timeUnixNano", String(event.nanosecondsSinceEpoch))
                            json.field("name", event.name)
                            json.key("attributes")
                            attributes(&json, event.attributes)
                        }
                    }
                }
            }
            if !span.links.isEmpty {
                json.key("links")
                json.array { json in
                    for link in span.links {
                        json.object { json in
                            json.field("traceId", link.traceID.hex)
                            json.field("spanId", Hex.encode(link.spanID))
                            if let state = link.traceState { json.field("traceState", state) }
                            json.key("attributes")
                            attributes(&json, link.attributes)
                        }
                    }
                }
            }
            json.key("status")
            json.object { json in
                switch span.status?.code {
                case .none: break
                case .ok:
                    json.key("code")
                    json.int(1)
                case .error:
                    json.key("code")
                    json.int(2)
                    if let message = span.status?.message { json.field("message", message) }
                }
            }
        }
    }

    private static func attributes(_ json: inout JSONWriter, _ attributes: SpanAttributes) {
        // Sorted keys: stable output, easy to diff and test.
        var pairs: [(String, SpanAttribute)] = []
        pairs.reserveCapacity(attributes.count)
        attributes.forEach { pairs.append(($0, $1)) }
        pairs.sort { $0.0 < $1.0 }
        json.array { json in
            for (key, value) in pairs { attribute(&json, key, value) }
        }
    }

    private static func attribute(_ json: inout JSONWriter, _ key: String, _ value: SpanAttribute) {
        json.object { json in
            json.field("key", key)
            json.key("value")
            anyValue(&json, value)
        }
    }

    /// An OTLP `AnyValue`.
    private static func anyValue(_ json: inout JSONWriter, _ value: SpanAttribute) {
        json.object { json in
            switch value {
            case .string(let string): json.field("stringValue", string)
            case .int32(let int): json.field("intValue", String(int))
            case .int64(let int): json.field("intValue", String(int))
            case .double(let double):
                json.key("doubleValue")
                json.double(double)
            case .bool(let bool):
                json.key("boolValue")
                json.bool(bool)
            case .stringConvertible(let convertible): json.field("stringValue", convertible.description)
            case .stringArray(let values): array(&json, values.map { .string($0) })
            case .int32Array(let values): array(&json, values.map { .int32($0) })
            case .int64Array(let values): array(&json, values.map { .int64($0) })
            case .doubleArray(let values): array(&json, values.map { .double($0) })
            case .boolArray(let values): array(&json, values.map { .bool($0) })
            case .stringConvertibleArray(let values): array(&json, values.map { .string($0.description) })
            default: json.field("stringValue", "")
            }
        }
    }

    private static func array(_ json: inout JSONWriter, _ values: [SpanAttribute]) {
        json.key("arrayValue")
        json.object { json in
            json.key("values")
            json.array { json in
                for value in values { anyValue(&json, value) }
            }
        }
    }
}
