import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import SwitchboardEdge

@Suite struct SDKFilesTests {
    @Test func pathsWithTraversalSeparatorsOrHiddenSegmentsAreRefused() {
        #expect(SDKFiles.relativePath(["@maravilla-labs", "platform", "index.js"]) == "@maravilla-labs/platform/index.js")
        for segments in [[], [".."], ["a", "..", "b"], ["", "etc"], ["a\\..\\b"], [".git", "config"], ["a/b"], ["a\0"]] {
            #expect(SDKFiles.relativePath(segments) == nil, "\(segments)")
        }
    }

    @Test func filesAreServedWithModuleTypesAndCORSButSymlinksOutOfTheRootAreNot() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sdkfiles-\(UUID().uuidString)")
        let root = base.appendingPathComponent("sdk")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("pkg"), withIntermediateDirectories: true)
        try Data("export {};\n".utf8).write(to: root.appendingPathComponent("pkg/index.js"))
        try Data("{}".utf8).write(to: root.appendingPathComponent("pkg/package.json"))
        try Data("secret".utf8).write(to: base.appendingPathComponent("secret.txt"))
        try FileManager.default.createSymbolicLink(
            at: root.appendingPathComponent("pkg/escape.txt"),
            withDestinationURL: base.appendingPathComponent("secret.txt")
        )
        let files = SDKFiles(root: root.path)
        let script = files.file(segments: ["pkg", "index.js"])
        #expect(script.status == .ok)
        #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
        #expect(script.headers[.accessControlAllowOrigin] == "*")
        #expect(files.file(segments: ["pkg", "package.json"]).headers[.contentType] == "application/json; charset=utf-8")
        #expect(files.file(segments: ["pkg", "escape.txt"]).status == .notFound)
        #expect(files.file(segments: ["pkg"]).status == .notFound)
    }

    @Test func withoutAFolderTheEmbeddedPackagesAreServed() {
        let files = SDKFiles(root: nil)
        let manifest = files.file(segments: ["@maravilla-labs", "platform", "package.json"])
        #expect(manifest.status == .ok)
        #expect(manifest.headers[.contentType] == "application/json; charset=utf-8")
        #expect(files.file(segments: ["@maravilla-labs", "platform", "index.js"]).headers[.contentType] == "text/javascript; charset=utf-8")
        #expect(files.file(segments: ["@maravilla-labs", "platform", "missing.js"]).status == .notFound)
    }
}
