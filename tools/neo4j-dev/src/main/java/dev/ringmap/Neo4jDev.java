package dev.ringmap;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.FileUserRepository;

/**
 * Development / CI launcher for a real Neo4j Community 5.26 LTS DBMS, embedded in this JVM with
 * the Bolt connector on 127.0.0.1 and authentication enabled.
 *
 * <pre>
 *   NEO4J_PASSWORD=... java -cp 'target/classes:target/lib/*' dev.ringmap.Neo4jDev \
 *       --data DIR [--port 7687] [--pid-file FILE] [--pagecache 256m]
 * </pre>
 *
 * Prints exactly one {@code READY bolt://127.0.0.1:PORT} line on stdout once the {@code neo4j}
 * database is available and the password is in place, and shuts the DBMS down cleanly on
 * SIGTERM/SIGINT. {@code --port 0} binds an ephemeral port; the READY line gives the real one.
 *
 * <p>Authentication: user {@code neo4j}, password from the environment variable NEO4J_PASSWORD
 * (never printed, never passed as an argument, never put in the Neo4j config). On a fresh data
 * directory it is written as the initial password (the same {@code data/dbms/auth.ini} file that
 * {@code neo4j-admin dbms set-initial-password} writes), so the well-known default password is
 * never active. On every start it is also (re)applied through the system database with {@code
 * ALTER USER neo4j SET PASSWORD ... CHANGE NOT REQUIRED}, so an existing data directory follows
 * the current NEO4J_PASSWORD.
 */
public final class Neo4jDev {
    private static final String USER = "neo4j";
    private static final String DEFAULT_DB = "neo4j";

    private Neo4jDev() {}

    public static void main(String[] args) throws Exception {
        int port = 7687;
        Path data = null;
        Path pidFile = null;
        long pageCache = ByteUnit.mebiBytes(256);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--port" -> port = Integer.parseInt(need(args, ++i, a));
                case "--data" -> data = Path.of(need(args, ++i, a));
                case "--pid-file" -> pidFile = Path.of(need(args, ++i, a));
                case "--pagecache" -> pageCache = ByteUnit.parse(need(args, ++i, a));
                case "-h", "--help" -> {
                    System.out.println(
                            "usage: Neo4jDev --data DIR [--port P] [--pid-file FILE] [--pagecache 256m]"
                                    + "  (password from env NEO4J_PASSWORD)");
                    return;
                }
                default -> fail("unknown argument: " + a);
            }
        }
        if (data == null) {
            fail("--data DIR is required");
        }
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.isEmpty()) {
            fail("NEO4J_PASSWORD must be set (and non-empty) in the environment");
        }
        if (port < 0 || port > 65535) {
            fail("bad --port " + port);
        }

        Path home = data.toAbsolutePath().normalize();
        Files.createDirectories(home);
        if (pidFile != null) {
            Files.writeString(pidFile, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
        }

        boolean fresh = !Files.exists(home.resolve("data").resolve("databases").resolve("system"));
        Path initialAuth = home.resolve("data").resolve("dbms").resolve("auth.ini");
        if (fresh) {
            writeInitialPassword(initialAuth, password);
        }

        long t0 = System.nanoTime();
        log("starting Neo4j Community " + neo4jVersion() + " in " + home + " (bolt 127.0.0.1:" + port + ")");
        CountDownLatch stopped = new CountDownLatch(1);
        try {
            DatabaseManagementService dbms = build(home, port, pageCache);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                log("shutting down");
                try {
                    dbms.shutdown();
                    log("stopped");
                } catch (Throwable t) {
                    log("error during shutdown: " + t);
                } finally {
                    stopped.countDown();
                }
            }, "neo4j-dev-shutdown"));

            GraphDatabaseService db = dbms.database(DEFAULT_DB);
            if (!db.isAvailable(Duration.ofSeconds(120).toMillis())) {
                throw new IllegalStateException("database '" + DEFAULT_DB + "' did not become available");
            }
            log(String.format("DBMS up after %.1f s", (System.nanoTime() - t0) / 1e9));
            syncPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
            if (fresh) {
                // Consumed when the system database was created; do not leave a hash lying around.
                Files.deleteIfExists(initialAuth);
            }
            int boltPort = boundBoltPort((GraphDatabaseAPI) db, port);
            log(String.format("started in %.1f s (JVM uptime %.1f s)", (System.nanoTime() - t0) / 1e9,
                    java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() / 1e3));
            System.out.println("READY bolt://127.0.0.1:" + boltPort);
            System.out.flush();
        } catch (Throwable t) {
            log("start-up failed: " + t);
            t.printStackTrace(System.err);
            System.exit(1); // runs the shutdown hook if the DBMS was built
        }

        // Block the main thread; SIGTERM/SIGINT run the shutdown hook, which shuts Neo4j down.
        stopped.await();
        // Give the JVM a moment to finish the hook cleanly before main returns.
        stopped.await(1, TimeUnit.SECONDS);
    }

    private static DatabaseManagementService build(Path home, int port, long pageCache) {
        return new DatabaseManagementServiceBuilder(home)
                .setConfig(Map.ofEntries(
                        // Bolt: loopback only, plain text.
                        Map.entry(BoltConnector.enabled, true),
                        Map.entry(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port)),
                        Map.entry(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port)),
                        Map.entry(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED),
                        Map.entry(HttpConnector.enabled, false),
                        // Default is to wait 5 s for Bolt connections on shutdown; a dev server
                        // should stop promptly on SIGTERM.
                        Map.entry(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1)),
                        Map.entry(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1)),
                        Map.entry(HttpsConnector.enabled, false),
                        // Real authentication. No lock-out after failed logins, otherwise a
                        // wrong-password test locks the right password out for auth_lock_time.
                        Map.entry(GraphDatabaseSettings.auth_enabled, true),
                        Map.entry(GraphDatabaseSettings.auth_max_failed_attempts, 0),
                        Map.entry(GraphDatabaseSettings.auth_minimum_password_length, 1),
                        // Small footprint for a 2-core / shared CI box.
                        Map.entry(GraphDatabaseSettings.pagecache_memory, pageCache),
                        Map.entry(GraphDatabaseSettings.preallocate_logical_logs, false),
                        Map.entry(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64)),
                        Map.entry(GraphDatabaseSettings.keep_logical_logs, "2 files"),
                        Map.entry(GraphDatabaseSettings.initial_default_database, DEFAULT_DB),
                        Map.entry(GraphDatabaseSettings.udc_enabled, false),
                        // OpenGDS: Neo4j registers procedures only from jars in the plugins
                        // directory (the build copies the org.neo4j.gds jars to target/plugins;
                        // their classes load from the launcher's classpath). They need
                        // unrestricted access to the kernel; nothing else is opened up.
                        Map.entry(GraphDatabaseSettings.plugin_dir, pluginDir()),
                        Map.entry(GraphDatabaseSettings.procedure_unrestricted, List.of("gds.*"))))
                .build();
    }

    /** target/plugins, beside target/classes where this class was loaded from. */
    private static Path pluginDir() {
        try {
            Path classes = Path.of(Neo4jDev.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return classes.resolveSibling("plugins").toAbsolutePath();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot locate the launcher's classes", e);
        }
    }

    /** Same thing `neo4j-admin dbms set-initial-password` does: data/dbms/auth.ini. */
    private static void writeInitialPassword(Path authFile, String password) {
        try (DefaultFileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            Files.createDirectories(authFile.getParent());
            Files.deleteIfExists(authFile);
            FileUserRepository repo =
                    new FileUserRepository(fs, authFile, NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
            repo.start();
            repo.create(new User(
                    USER,
                    null,
                    SystemGraphCredential.createCredentialForPassword(
                            password.getBytes(StandardCharsets.UTF_8), new SecureHasher()),
                    false,
                    false));
            repo.shutdown();
        } catch (Throwable t) {
            // Not fatal: syncPassword() below still sets the password via the system database.
            log("could not pre-seed the initial password (" + t.getClass().getSimpleName()
                    + "); it will be set through the system database instead");
        }
    }

    /** Make the neo4j user's password equal NEO4J_PASSWORD, with no change required. */
    private static void syncPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
            log("password for user 'neo4j' set from NEO4J_PASSWORD");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
            if (msg.contains("cannot be the same")) {
                log("password for user 'neo4j' already matches NEO4J_PASSWORD");
            } else {
                throw e;
            }
        }
    }

    private static int boundBoltPort(GraphDatabaseAPI db, int requested) {
        try {
            HostnamePort hp = db.getDependencyResolver()
                    .resolveDependency(ConnectorPortRegister.class)
                    .getLocalAddress(ConnectorType.BOLT);
            if (hp != null && hp.getPort() > 0) {
                return hp.getPort();
            }
        } catch (RuntimeException ignored) {
            // fall through
        }
        if (requested == 0) {
            throw new IllegalStateException("could not determine the ephemeral Bolt port");
        }
        return requested;
    }

    private static String neo4jVersion() {
        String v = org.neo4j.kernel.internal.Version.getNeo4jVersion();
        return v == null ? "?" : v;
    }

    private static String need(String[] args, int i, String flag) {
        if (i >= args.length) {
            fail(flag + " needs a value");
        }
        return args[i];
    }

    private static void fail(String msg) {
        System.err.println("neo4j-dev: " + msg);
        System.exit(2);
    }

    private static void log(String msg) {
        System.err.println("[neo4j-dev] " + msg);
        System.err.flush();
    }
}
