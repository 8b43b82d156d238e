import Foundation
import PackagePlugin

/// Embeds the console and example pages (`Sources/SwitchboardEdge/Public/**`) and the browser SDK (`sdk/js/**`) into
/// the target, so a `switchboard` binary copied alone serves them (no resource bundle beside it, no `Bundle.module`).
///
/// Why a build-tool plugin: it lives in this package and needs no network, and it runs on every `swift build` of a fresh
/// clone, so what is served is always what the tree holds (a committed generated file would drift whenever someone adds
/// a page). The plugin lists the files as the command's inputs: changing, adding or removing one re-runs
/// `EmbedFilesTool`, which writes `EmbeddedFiles.swift` (paths to base64) into the plugin's work folder.
@main
struct EmbedFiles: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let tool = try context.tool(named: "EmbedFilesTool")
        let roots: [(prefix: String, folder: URL)] = [
            ("", target.directoryURL.appending(path: "Public")),
            ("sdk/", context.package.directoryURL.appending(path: "sdk").appending(path: "js")),
        ]
        var inputs: [URL] = []
        for root in roots { inputs += Self.files(under: root.folder) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) public files into \(target.name)",
                executable: tool.url,
                arguments: [output.path] + roots.flatMap { [$0.prefix, $0.folder.path] },
                inputFiles: inputs + roots.map(\.folder).filter { FileManager.default.fileExists(atPath: $0.path) },
                outputFiles: [output]
            )
        ]
    }

    /// Every regular, non-hidden file under `folder`.
    static func files(under folder: URL) -> [URL] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var files: [URL] = []
        while let path = enumerator.nextObject() as? String {
            guard !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
            var isDirectory: ObjCBool = false
            let url = folder.appending(path: path)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(url) }
        }
        return files
    }
}
