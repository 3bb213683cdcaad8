package graphrec.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * A Neo4j 5.26 Community DBMS serving Bolt on 127.0.0.1, for graphrec's launcher.
 *
 * <p>Usage: {@code LocalServer HOME PORT}. The store lives under HOME and survives restarts.
 * When the environment variable {@code GRAPHREC_NEO4J_AUTH_PASSWORD} is set, authentication is
 * enabled and the {@code neo4j} user gets that password; the password is never printed.
 * The process prints {@code READY} once Bolt accepts connections and shuts the DBMS down
 * cleanly on SIGTERM/SIGINT.
 */
public final class LocalServer {
    /** How long Bolt waits for its connections and threads when the server stops. */
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(1);

    private LocalServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: LocalServer HOME PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        Files.createDirectories(home);
        String password = System.getenv("GRAPHREC_NEO4J_AUTH_PASSWORD");
        boolean auth = password != null && !password.isEmpty();

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                // a local store of the user's data: no usage report is sent to Neo4j
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // Bolt stops after the databases; its default waits (5 s for the connections,
                // 5 s for its worker threads) would only delay the exit of a local server
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, SHUTDOWN_WAIT)
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, SHUTDOWN_WAIT)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }, "graphrec-neo4j-shutdown"));

        if (auth) {
            GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        }
        System.out.println("READY bolt://127.0.0.1:" + port + (auth ? " auth" : " noauth"));
        System.out.flush();
        stopped.await();
    }
}
