#!/bin/bash
# Redis mode on loopback: redis-server, 2 silos, 3 workers (as tests/Scheduler.Tests/Faults/FaultCluster starts them).
set -e
D=${1:?usage: redis_up.sh OUTPUT_DIR}; mkdir -p $D; D=$(cd $D && pwd)
B=$(cd "$(dirname "$0")/../../src" && pwd)
redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --pidfile $D/redis.pid --logfile $D/redis.log
sleep 1
COMMON="--Scheduler:Clustering=redis --Scheduler:Redis=127.0.0.1:16379 --Scheduler:ClusterId=soak --Scheduler:ServiceId=soak
 --Scheduler:AdminApiKey=soak-admin-key --Scheduler:NodeToken=soak-node-token
 --Scheduler:Scheduling:HeartbeatInterval=00:00:01 --Scheduler:Scheduling:NodeLease=00:00:06
 --Logging:LogLevel:Default=Warning --Logging:LogLevel:Scheduler=Information --Logging:LogLevel:Orleans=Warning"
for i in 0 1; do
  nohup dotnet $B/Scheduler.Silo/bin/Release/net10.0/Scheduler.Silo.dll $COMMON --Scheduler:GrpcPort=1620$i --Scheduler:HttpPort=1628$i \
    --Scheduler:OpenAiPort=1618$i --Scheduler:SiloPort=1621$i --Scheduler:GatewayPort=1623$i > $D/silo$i.log 2>&1 &
  echo $! > $D/silo$i.pid
  [ $i = 0 ] && sleep 12
done
sleep 12
for i in 0 1 2; do
  if [ $i = 1 ]; then A=http://127.0.0.1:16201,http://127.0.0.1:16200; else A=http://127.0.0.1:16200,http://127.0.0.1:16201; fi
  nohup dotnet $B/Scheduler.Worker/bin/Release/net10.0/Scheduler.Worker.dll --Worker:NodeId=soak-node-$i --Worker:SchedulerAddress=$A \
    --Worker:NodeToken=soak-node-token --Worker:SpeedUp=1 --Worker:Port=1650$i --Worker:HealthPort=1657$i --Logging:LogLevel:Default=Warning \
    --Worker:Accelerators:0:Product=H100 --Worker:Accelerators:0:Count=1 --Worker:Accelerators:0:MaxSequences=24 \
    --Worker:Accelerators:1:Product=L4 --Worker:Accelerators:1:Count=1 --Worker:Accelerators:1:MaxSequences=12 > $D/worker$i.log 2>&1 &
  echo $! > $D/worker$i.pid
done
