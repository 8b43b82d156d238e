import Foundation
import Hummingbird
import SwitchboardAdapterKit

/// Serves the pages shipped with the edge (`/examples/chat.html`) from the module's resources.
struct StaticFiles {
    let root: URL?

    init() {
        self.root = Bundle.module.url(forResource: "Public", withExtension: nil)
    }

    func register(on router: Router<SwitchboardContext>) {
        router.get("/examples/:file") { _, context -> Response in
            guard let name = context.parameters.get("file"), !name.contains(".."), !name.contains("/"), let root = self.root,
                let data = FileManager.default.contents(atPath: root.appendingPathComponent("examples").appendingPathComponent(name).path)
            else { return Response(status: .notFound) }
            let type =
                switch (name as NSString).pathExtension {
                case "html": "text/html; charset=utf-8"
                case "js": "text/javascript; charset=utf-8"
                case "css": "text/css; charset=utf-8"
                default: "application/octet-stream"
                }
            return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
