// An HTTP/1.1 server (com.sun.net.httpserver) answering WORD to every
// request, one line per request on stdout: METHOD PATH X-REQ BODY_BYTES.
// Launched as a single file: java Main.java WORD PORT
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class Main {
    public static void main(String[] args) throws Exception {
        String word = args[0];
        HttpServer s = HttpServer.create(new InetSocketAddress(Integer.parseInt(args[1])), 256);
        s.createContext("/", ex -> {
            long n = 0;
            byte[] buf = new byte[65536];
            try (InputStream in = ex.getRequestBody()) {
                for (int r; (r = in.read(buf)) > 0;) n += r;
            }
            String x = ex.getRequestHeaders().getFirst("X-Req");
            synchronized (Main.class) {
                System.out.println(ex.getRequestMethod() + " " + ex.getRequestURI() + " "
                                   + (x == null ? "-" : x) + " " + n);
                System.out.flush();
            }
            byte[] body = (word + "\n").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream o = ex.getResponseBody()) { o.write(body); }
        });
        s.setExecutor(Executors.newFixedThreadPool(16));
        s.start();
    }
}
