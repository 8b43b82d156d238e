import Hummingbird
import Testing

@testable import SwitchboardEdge

@Suite struct StaticFilesTests {
    @Test func consolePageAndAssetsAreShippedAsResources() {
        let files = StaticFiles()
        for name in ["index.html", "console.js", "console.css"] {
            let response = files.file(name, in: "console")
            #expect(response.status == .ok, "\(name)")
            #expect(response.headers[.cacheControl] == "no-cache")
        }
        #expect(files.file("chat.html", in: "examples").status == .ok)
    }

    @Test(arguments: ["../examples/chat.html", "..", "a/b.js", "", "missing.js"])
    func namesOutsideTheFolderOrMissingAreNotFound(_ name: String) {
        #expect(StaticFiles().file(name, in: "console").status == .notFound)
    }

    @Test func contentTypesFollowTheExtension() {
        #expect(StaticFiles.contentType(of: "index.html") == "text/html; charset=utf-8")
        #expect(StaticFiles.contentType(of: "console.js") == "text/javascript; charset=utf-8")
        #expect(StaticFiles.contentType(of: "console.css") == "text/css; charset=utf-8")
        #expect(StaticFiles.contentType(of: "blob.bin") == "application/octet-stream")
    }
}
