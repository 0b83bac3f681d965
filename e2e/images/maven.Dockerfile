# Stands in for the official maven:3.8-eclipse-temurin-17: Debian bookworm's
# OpenJDK 17 and Maven 3.8. No Maven repository can be reached here, so the
# repository Maven downloads from is Debian's packaged plugins (a mirror of
# everything at file:///usr/share/maven-repo): a project that pins plugin
# versions Debian packages builds as it would against Maven Central, into
# ~/.m2 as the official image does.
FROM debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
        libmaven-resources-plugin-java libmaven-compiler-plugin-java libsurefire-java \
        libmaven-jar-plugin-java libmaven-install-plugin-java ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && sed -i 's|<mirrors>|<mirrors><mirror><id>packaged</id><mirrorOf>*</mirrorOf><url>file:///usr/share/maven-repo</url></mirror>|' \
        /usr/share/maven/conf/settings.xml
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 MAVEN_HOME=/usr/share/maven MAVEN_CONFIG=/root/.m2
CMD ["mvn"]
