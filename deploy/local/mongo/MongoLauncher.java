// Local MongoDB stand-in for ICR development and tests, started by deploy/local/infra.py.
//
//   java -cp '<classes>:<jars>/*' MongoLauncher --host 127.0.0.1 --port 27018 (--memory | --h2 FILE) [--oplog]
//
// Why a launcher of our own: mongo-java-server's bundled mains bind to localhost:27017 only and
// report wire version 8, which PyMongo 4.x refuses (it needs maxWireVersion >= 9); and its
// backends ignore secondary indexes and serve a unique index only for a query naming exactly its
// keys, so the backends here are extended (IndexedBackends, OrderedIndex, IndexPlanner).
// infra.py compiles the sources in this folder once into ~/.cache/icr/classes/<hash>/.

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import java.util.List;
import java.util.concurrent.CountDownLatch;

public class MongoLauncher {

    // The version only changes what hello/isMaster/buildInfo report, not server behaviour.
    // 4.4 (wire 9) is the lowest PyMongo 4.x accepts; claiming more would invite drivers to use
    // features the stand-in does not have.
    record ClaimedVersion(List<Integer> versionArray, int wireVersion) implements MongoVersion {
        @Override public List<Integer> getVersionArray() { return versionArray; }
        @Override public int getWireVersion() { return wireVersion; }
    }

    static final ClaimedVersion VERSION = new ClaimedVersion(List.of(4, 4, 0), 9);

    public static void main(String[] args) {
        String host = "127.0.0.1";
        int port = 27017;
        String h2File = null;
        boolean oplog = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--host" -> host = args[++i];
                    case "--port" -> port = Integer.parseInt(args[++i]);
                    case "--h2" -> h2File = args[++i];
                    case "--memory" -> h2File = null;
                    case "--oplog" -> oplog = true;
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            System.err.println("MongoLauncher: bad arguments: " + e.getMessage());
            System.exit(2);
        }

        MongoServer server;
        try {
            long opening = System.nanoTime();
            MongoBackend backend = h2File != null ? new IndexedBackends.H2(h2File) : new IndexedBackends.Memory();
            if (h2File != null) {
                // H2 keeps documents and unique indexes on disk; secondary indexes and the _id
                // order live in memory and are rebuilt here, while the databases open.
                System.out.printf("MongoLauncher: opened %s in %d ms (%d secondary index entries rebuilt, _id order included)%n",
                        h2File, (System.nanoTime() - opening) / 1_000_000, IndexedBackends.REBUILT_ENTRIES.get());
            }
            backend.version(VERSION);
            server = new MongoServer(backend);
            // The oplog (change streams) is an uncapped collection, so it is opt-in.
            if (oplog) server.enableOplog();
            server.bind(host, port);
        } catch (Exception e) {
            // One line the launcher script can show (e.g. port in use, H2 file locked).
            System.err.println("MongoLauncher: failed to start on " + host + ":" + port + ": " + e);
            System.exit(1);
            return;
        }

        // SIGTERM/SIGINT run shutdown hooks: stop listening and close the backend, which
        // commits and closes the H2 file so the dev data survives.
        final MongoServer running = server;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("MongoLauncher: shutting down");
            running.shutdown();
            System.out.println("MongoLauncher: stopped");
            System.out.flush();
            stopped.countDown();
        }, "mongo-launcher-shutdown"));

        // infra.py waits for this line (plus a hello round trip) before calling Mongo ready.
        System.out.printf("MongoLauncher ready on %s:%d (backend=%s, version=%s, wire=%d, oplog=%s)%n",
                host, port, h2File != null ? "h2:" + h2File : "memory",
                VERSION.toVersionString(), VERSION.getWireVersion(), oplog);
        System.out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
