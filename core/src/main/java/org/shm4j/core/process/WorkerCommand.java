package org.shm4j.core.process;

import org.shm4j.core.internal.ProcessIdentity;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * Builds the command line of a worker JVM from how this JVM was started: its {@code java} binary, its class path and
 * module path, and its module-system, native-access and preview options.
 *
 * <p>Inherited from this JVM's input arguments: {@code --enable-native-access}, {@code --illegal-native-access},
 * {@code --add-modules}, {@code --add-reads}, {@code --add-exports}, {@code --add-opens}, {@code --patch-module},
 * {@code --limit-modules}, {@code --upgrade-module-path} and {@code --enable-preview} (without it, a worker class
 * compiled with preview features fails to load). If none enables native access but the class path's code
 * has it (an executable JAR's {@code Enable-Native-Access} attribute), {@code --enable-native-access=ALL-UNNAMED} is
 * passed; so are {@code --add-exports} and {@code --add-opens} for what an executable JAR's {@code Add-Exports} and
 * {@code Add-Opens} attributes gave it (the worker runs the JAR from its class path, where they do not act). This
 * JVM's system properties named {@code shm4j.*} (the library's own settings, such as
 * {@code shm4j.futex}) are passed as they are now, unless the builder sets them. Other JVM options and system
 * properties (heap size, agents, ...) are not inherited: pass them with
 * {@link WorkerProcess.Builder#jvmOption(String)} and {@link WorkerProcess.Builder#systemProperty(String, String)}.
 *
 * <p>When this package is in a named module (the application runs on the module path), the worker starts with
 * {@code -m org.shm4j.core/org.shm4j.core.process.WorkerLauncher}, the worker class's module is added to the root
 * modules and its package opened to {@code org.shm4j.core}, so that the launcher can call a method of a package
 * the module does not export; this JVM's main module is added too, so that every module the inherited options name
 * is in the worker's module graph. Otherwise the launcher is started from the class path.
 */
final class WorkerCommand {
    private static final List<String> INHERITED_OPTIONS = List.of("--enable-native-access", "--illegal-native-access",
            "--add-modules", "--add-reads", "--add-exports", "--add-opens", "--patch-module", "--limit-modules",
            "--upgrade-module-path");
    /** The one inherited option that takes no value. */
    private static final String ENABLE_PREVIEW = "--enable-preview";

    /** The prefix of the library's own system properties, which a worker inherits. */
    private static final String LIBRARY_PROPERTY_PREFIX = "shm4j.";

    private WorkerCommand() {
    }

    /**
     * @return the command that runs {@code method} of {@code type} with {@code args} in a new JVM
     */
    static List<String> of(Class<?> type, String method, List<String> args, Map<String, String> properties,
                           List<String> jvmOptions, boolean daemon) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(inheritedOptions());
        libraryProperties().forEach((key, value) -> {
            if (!properties.containsKey(key)) {
                command.add(propertyOption(key, value));
            }
        });
        properties.forEach((key, value) -> command.add(propertyOption(key, value)));
        jvmOptions.forEach(option -> command.add(ProcessArguments.requirePlatformEncodable("JVM option", option)));
        String classPath = System.getProperty("java.class.path", "");
        if (!classPath.isEmpty()) {
            command.add("-cp");
            command.add(classPath);
        }
        String modulePath = System.getProperty("jdk.module.path", "");
        if (!modulePath.isEmpty()) {
            command.add("--module-path");
            command.add(modulePath);
        }
        Module launcher = WorkerLauncher.class.getModule();
        if (launcher.isNamed()) {
            Module target = type.getModule();
            String mainModule = System.getProperty("jdk.module.main", "");
            if (!mainModule.isEmpty() && !mainModule.equals(target.getName())) {
                // the worker resolves this JVM's roots too: inherited options that name the main module (or a
                // module only it requires) would otherwise warn "Unknown module" in the worker
                command.add("--add-modules=" + mainModule);
            }
            if (target.isNamed() && target != launcher) {
                command.add("--add-modules=" + target.getName());
                if (!target.isOpen(type.getPackageName(), launcher)) {
                    command.add("--add-opens=" + target.getName() + "/" + type.getPackageName() + "="
                            + launcher.getName());
                }
            }
            command.add("-m");
            command.add(launcher.getName() + "/" + WorkerLauncher.class.getName());
        } else {
            command.add(WorkerLauncher.class.getName());
        }
        List<String> launched = new ArrayList<>(List.of(type.getName(), method)); // a class may be named in any script
        launched.addAll(args);
        String encoding = ProcessArguments.encodingFor(launched);
        command.add(encoding);
        command.add(daemon ? parentSpec() : WorkerLauncher.NO_PARENT);
        launched.forEach(arg -> command.add(ProcessArguments.encode(encoding, arg)));
        return command;
    }

    /** @return the option that sets system property {@code key}, if the platform's encoding carries it */
    private static String propertyOption(String key, String value) {
        return ProcessArguments.requirePlatformEncodable("system property '" + key + "'", "-D" + key + "=" + value);
    }

    /** @return this JVM's system properties named {@code shm4j.*}, as they are now, in name order */
    private static Map<String, String> libraryProperties() {
        Map<String, String> found = new TreeMap<>();
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith(LIBRARY_PROPERTY_PREFIX)) {
                found.put(key, System.getProperty(key));
            }
        }
        return found;
    }

    /** @return the module-system, native-access and preview options this JVM was started with */
    static List<String> inheritedOptions() {
        List<String> options = new ArrayList<>();
        boolean nativeAccess = false;
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.equals(ENABLE_PREVIEW)) {
                options.add(argument);
            }
            for (String option : INHERITED_OPTIONS) {
                if (argument.startsWith(option + "=")) {
                    options.add(argument);
                    nativeAccess |= option.equals("--enable-native-access");
                }
            }
        }
        if (!nativeAccess && ClassLoader.getSystemClassLoader().getUnnamedModule().isNativeAccessEnabled()) {
            options.add("--enable-native-access=ALL-UNNAMED");
        }
        options.addAll(executableJarAccess());
        return options;
    }

    /**
     * @return {@code --add-exports} and {@code --add-opens} options for what the {@code Add-Exports} and
     *         {@code Add-Opens} attributes of an executable JAR gave this JVM: they act only under {@code java -jar},
     *         and the worker gets the JAR on its class path. Only what this JVM's class path code really was given
     *         is passed (run with {@code -cp}, the same JAR gave nothing).
     */
    private static List<String> executableJarAccess() {
        String classPath = System.getProperty("java.class.path", "");
        if (classPath.isEmpty() || classPath.contains(File.pathSeparator) || !new File(classPath).isFile()) {
            return List.of(); // java -jar puts exactly the JAR on the class path
        }
        Attributes attributes;
        try (JarFile jar = new JarFile(classPath)) {
            Manifest manifest = jar.getManifest();
            if (manifest == null) {
                return List.of();
            }
            attributes = manifest.getMainAttributes();
        } catch (IOException notAJar) {
            return List.of();
        }
        Module unnamed = ClassLoader.getSystemClassLoader().getUnnamedModule();
        List<String> options = new ArrayList<>();
        for (String attribute : List.of("Add-Exports", "Add-Opens")) {
            boolean opens = attribute.equals("Add-Opens");
            String value = attributes.getValue(attribute);
            for (String entry : value == null ? new String[0] : value.trim().split("\\s+")) {
                int slash = entry.indexOf('/');
                Optional<Module> module = slash <= 0 ? Optional.empty()
                        : ModuleLayer.boot().findModule(entry.substring(0, slash));
                String pkg = entry.substring(slash + 1);
                if (module.isPresent() && (opens ? module.get().isOpen(pkg, unnamed) && !module.get().isOpen(pkg)
                        : module.get().isExported(pkg, unnamed) && !module.get().isExported(pkg))) {
                    options.add((opens ? "--add-opens=" : "--add-exports=") + entry + "=ALL-UNNAMED");
                }
            }
        }
        return options;
    }

    /** @return this process as the launcher's parent argument: {@code pid:startStamp} or {@code pid:-} */
    private static String parentSpec() {
        long stamp = ProcessIdentity.currentStartStamp();
        return ProcessHandle.current().pid() + ":" + (stamp == 0 ? WorkerLauncher.NO_PARENT : Long.toString(stamp));
    }
}
